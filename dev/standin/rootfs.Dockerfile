# A Debian minbase root filesystem per platform (tarballs made by debootstrap in dev/setup-host.sh),
# built for several platforms at once so that one tag serves them all.
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
CMD ["bash"]
