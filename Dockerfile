# takt-controller and kubectl-takt on Debian 12, as built and tested here.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev libmicrohttpd-dev zlib1g-dev \
      libssl-dev ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# What .dockerignore lets through: Makefile, scripts/versions.env, pkg, cmd.
COPY . .
RUN make -j"$(nproc)" all

FROM debian:bookworm-slim
# tzdata: the controller reads the IANA zones from /usr/share/zoneinfo.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libcurl4 libcjson1 libyaml-0-2 libssl3 libmicrohttpd12 zlib1g ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/takt-controller /src/bin/kubectl-takt /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/takt-controller"]
