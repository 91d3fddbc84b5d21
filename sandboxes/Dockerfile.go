# Go stack: Debian's Go toolchain on top of the base (plain HTTP to the Debian mirror). No C
# compiler: cgo is off, and the standard library is compiled once here into a cache the
# checks start from.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && go version
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOTELEMETRY=off
WORKDIR /work
