// bench-peer: the peer that `make bench-lag` measures takt against.
//
// Nothing else fires Kubernetes Jobs every second (CronJob stops at one
// minute), so the peer is the least a Go controller must do to fire the
// same Jobs at the same instants: client-go, a goroutine per schedule
// sleeping until each slot, the Job built ahead, each POST in its own
// goroutine so that a slow round trip never delays a slot, and the Job of
// three slots earlier deleted (about takt's history limit of 1, so the
// control plane carries a comparable load). It writes no status and no
// Events and watches nothing: its figures are a floor set by the control
// plane and the machine, not a competing product.
//
// The schedules are lag.sh's: i = 1..n, odd i every second, even i every
// even second (or all every `--every` seconds, a divisor of 60). The Jobs carry the annotation takt.io/scheduled-time, which
// the bench's watcher reads, and the bench's pod annotation (KWOK runs the
// pod for 1 s). One line per answered POST, in the controller's log format,
// so lag.sh reads both alike:
//
//	ts=<answer time> level=info msg="job created" obj=peer/lag-<i> job=<name> ms=<round trip>
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var out sync.Mutex

func logf(format string, a ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Printf(format, a...)
}

func job(i int, slot time.Time) *batchv1.Job {
	zero := int32(0)
	grace := int64(0)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("lag-%d-%d", i, slot.Unix()),
			Labels:      map[string]string{"bench.takt.io/peer": "1"},
			Annotations: map[string]string{"takt.io/scheduled-time": slot.UTC().Format(time.RFC3339)},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit: &zero,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Annotations: map[string]string{"test.takt.io/run-for": "1s"},
				},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: &grace,
					Containers:                    []corev1.Container{{Name: "work", Image: "example.invalid/work"}},
				},
			},
		},
	}
}

func schedule(ctx context.Context, cs kubernetes.Interface, ns string, i, every int, wg *sync.WaitGroup) {
	defer wg.Done()
	step := time.Second
	if every > 0 {
		step = time.Duration(every) * time.Second
	} else if i%2 == 0 {
		step = 2 * time.Second
	}
	jobs := cs.BatchV1().Jobs(ns)
	bg := metav1.DeletePropagationBackground
	next := time.Now().Truncate(step).Add(step)
	for {
		body := job(i, next) // built ahead, as takt does
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		slot := next
		go func() {
			sent := time.Now()
			_, err := jobs.Create(context.Background(), body, metav1.CreateOptions{})
			now := time.Now()
			if err != nil {
				fmt.Fprintf(os.Stderr, "create %s: %v\n", body.Name, err)
				return
			}
			logf("ts=%s level=info msg=\"job created\" obj=peer/lag-%d job=%s ms=%.1f\n",
				now.UTC().Format("2006-01-02T15:04:05.000Z"), i, body.Name,
				float64(now.Sub(sent).Microseconds())/1000)
			old := fmt.Sprintf("lag-%d-%d", i, slot.Add(-3*step).Unix())
			_ = jobs.Delete(context.Background(), old, metav1.DeleteOptions{PropagationPolicy: &bg})
		}()
		next = next.Add(step)
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	ns := flag.String("namespace", "default", "namespace of the Jobs")
	n := flag.Int("n", 10, "schedules")
	every := flag.Int("every", 0, "seconds between slots, dividing 60 (0: odd schedules every second, even ones every 2 s)")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-peer:", err)
		os.Exit(1)
	}
	// As high as takt gets in the bench (--qps 2000 --burst 4000).
	cfg.QPS, cfg.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-peer:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var wg sync.WaitGroup
	for i := 1; i <= *n; i++ {
		wg.Add(1)
		go schedule(ctx, cs, *ns, i, *every, &wg)
	}
	wg.Wait()
}
