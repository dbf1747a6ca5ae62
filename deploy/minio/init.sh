#!/bin/sh
# The one-off `minio-init` (docker-compose.yml): the only holder of MinIO's root credentials.
# Makes both buckets with Object Lock (which turns versioning on and keeps it on), then one
# access key per realm, each with a policy that reaches its own bucket only. Safe to run again:
# it changes nothing that is already as it should be.
set -eu

mc alias set casevault http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

for bucket in casevault-archive casevault-release; do
    mc mb --ignore-existing --with-lock "casevault/$bucket"
    mc version enable "casevault/$bucket"
    # Object Lock can only be chosen when a bucket is made: refuse one made earlier without it.
    if ! mc retention info --default "casevault/$bucket" >/dev/null 2>&1; then
        echo "casevault/$bucket exists without Object Lock: make it anew with --with-lock" >&2
        exit 1
    fi
done

# name access-key secret-key policy-file
grant() {
    mc admin policy create casevault "$1" "/deploy/$4"
    mc admin user add casevault "$2" "$3"
    # Attaching a policy that is already attached is refused: what counts is that it is.
    mc admin policy attach casevault "$1" --user "$2" >/dev/null 2>&1 || true
    mc admin user info casevault "$2" | grep -qw -- "$1" || {
        echo "the policy $1 is not attached to $2" >&2
        exit 1
    }
}

grant casevault-archive "$ARCHIVE_ACCESS_KEY" "$ARCHIVE_SECRET_KEY" archive-policy.json
grant casevault-release "$RELEASE_ACCESS_KEY" "$RELEASE_SECRET_KEY" release-policy.json
grant casevault-disposal "$DISPOSAL_ACCESS_KEY" "$DISPOSAL_SECRET_KEY" disposal-policy.json
echo "buckets and access keys ready"
