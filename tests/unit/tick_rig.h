/* The harness the controller's leader and shutdown unit tests share: one
 * BatchSchedule "tick" firing every second, in namespace NS, listed through
 * the fake transport (fake_transport.h) on the real event loop, and the
 * controller on top. The including test defines NS and RIG_INSTANCE first.
 *
 * Ownership: rig_new returns a rig the test owns; rig_free frees the
 * controller, the fake transport and the loop, and checks nothing was left
 * open (no request, no timer). */
#ifndef TAKT_TESTS_TICK_RIG_H
#define TAKT_TESTS_TICK_RIG_H

#if !defined(NS) || !defined(RIG_INSTANCE)
#error "define NS and RIG_INSTANCE before including tick_rig.h"
#endif

#define P_SCHEDULES "/apis/takt.io/v1alpha1/namespaces/" NS "/batchschedules"
#define P_JOBS	    "/apis/batch/v1/namespaces/" NS "/jobs"
#define P_STATUS    P_SCHEDULES "/tick/status"
#define EMPTY_LIST  "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}"

/* A schedule firing every second, as bs_apply (tests/e2e/ctl_lib.sh)
 * makes it. */
#define TICK                                                                                       \
	"{\"apiVersion\":\"takt.io/v1alpha1\",\"kind\":\"BatchSchedule\",\"metadata\":{"           \
	"\"name\":\"tick\",\"namespace\":\"" NS "\",\"uid\":\"bs-uid-tick\",\"generation\":1,"     \
	"\"resourceVersion\":\"10\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\","               \
	"\"annotations\":{}},\"spec\":{\"schedule\":\"* * * * * *\","                              \
	"\"concurrencyPolicy\":\"Allow\",\"jobTemplate\":{\"spec\":{\"backoffLimit\":0,"           \
	"\"template\":{\"spec\":{\"restartPolicy\":\"Never\","                                     \
	"\"containers\":[{\"name\":\"work\",\"image\":\"example.invalid/work\"}]}}}}}}"
#define LIST(items) "{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":[" items "]}"
#define WRITTEN	    "{\"metadata\":{\"resourceVersion\":\"100\"}}"

struct rig {
	struct loop *loop;
	struct fake_tr *f;
	struct controller *c;
	size_t answered; /* requests looked at by answer_writes */
};

static struct rig *rig_new(void)
{
	struct rig *g = calloc(1, sizeof(*g));
	assert_int_equal(loop_new(&g->loop), 0);
	g->f = fake_tr_new(g->loop);
	fake_set_list_default(g->f, EMPTY_LIST);
	fake_set_list(g->f, P_SCHEDULES, LIST(TICK));
	struct controller_opts o = {.namespace = NS, .instance = RIG_INSTANCE};
	assert_int_equal(controller_new(g->loop, &g->f->tr, &o, &g->c), 0);
	return g;
}

static void rig_free(struct rig *g)
{
	controller_free(g->c);
	assert_int_equal(fake_open(g->f), 0);
	assert_int_equal(loop_timer_count(g->loop), 0);
	fake_tr_free(g->f);
	loop_free(g->loop);
	free(g);
}

#endif
