# Stand-in for the official redis image, made from Debian's redis-server on the bookworm rootfs.
# Used only where Docker Hub cannot be reached (CI hosts); see dev/setup-host.sh. Like the
# official image it listens on every interface of its container without protected mode and
# keeps its data in /data.
ARG ROOTFS
FROM ${ROOTFS}
RUN set -eu; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null; \
    apt-get clean; rm -rf /var/lib/apt/lists/*; \
    mkdir -p /data; chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
