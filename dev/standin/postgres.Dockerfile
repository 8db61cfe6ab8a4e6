# Stand-in for the official postgres image, made from Debian's postgresql-15 on the bookworm rootfs.
# Used only where Docker Hub cannot be reached (CI hosts); see dev/setup-host.sh. It honours the
# same environment (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA) and data path, so a
# compose file works unchanged with either image.
ARG ROOTFS
FROM ${ROOTFS}
RUN set -eu; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null; \
    apt-get clean; rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/postgresql/data /var/run/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql; \
    chmod 700 /var/lib/postgresql/data
COPY --chmod=0755 postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
# A named volume mounted here takes this directory's owner (postgres) on first use.
VOLUME /var/lib/postgresql/data
USER postgres
EXPOSE 5432
# SIGTERM would be a "smart" shutdown that waits for every client to leave; SIGINT is the fast one.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
