#!/usr/bin/env bash
# Log retention loop for a sidecar: deletes task logs older than AIRFLOW__LOG_RETENTION_DAYS days
# every AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES minutes, so local logs never fill their volume.
set -euo pipefail
directory="${AIRFLOW_HOME:-/opt/airflow}/logs"
retention_days="${AIRFLOW__LOG_RETENTION_DAYS:-15}"
every_minutes="${AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES:-15}"
[[ $retention_days =~ ^[0-9]+$ ]] || { echo "AIRFLOW__LOG_RETENTION_DAYS must be a whole number, got '$retention_days'" >&2; exit 2; }
[[ $every_minutes =~ ^[0-9]+$ && $every_minutes -gt 0 ]] || { echo "AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES must be a positive whole number, got '$every_minutes'" >&2; exit 2; }
trap 'exit 0' TERM INT
while true; do
    find "$directory" -type f -name '*.log' -mtime "+${retention_days}" -delete 2>/dev/null || true
    find "$directory" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    sleep $((every_minutes * 60)) &
    wait $!
done
