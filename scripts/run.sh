#!/usr/bin/env bash
# Migrate, seed the demo, then run the web server and a Celery worker (with beat) side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export DJANGO_SETTINGS_MODULE=control_plane.settings
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VAR_DIR=${CONTROL_PLANE_VAR_DIR:-$PWD/var}
# Two gunicorn workers (and the Celery worker) write their metrics to one folder, so /metrics
# adds them up instead of answering from whichever worker took the scrape.
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  export PROMETHEUS_MULTIPROC_DIR="$VAR_DIR/prometheus"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
fi
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

# With DEBUG off the server refuses the published default key: the demo gets a random one,
# generated once into var/ (unless the environment or .env sets SECRET_KEY).
if [ -z "${SECRET_KEY:-}" ] && ! grep -qs '^SECRET_KEY=.' .env; then
  key_file="${CONTROL_PLANE_VAR_DIR:-var}/secret_key"
  if [ ! -s "$key_file" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$key_file")
  fi
  SECRET_KEY=$(cat "$key_file")
  export SECRET_KEY
fi

"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput >/dev/null
"$PY" manage.py seed_demo

"$VENV/bin/celery" -A control_plane worker --beat --pool=solo --loglevel=WARNING &
pids=$!
if [ -n "${REDIS_URL:-}" ]; then  # predictions go through a Redis stream: drain it into the database
  "$PY" manage.py drain_predictions --consumer "run-$$" &
  pids="$pids $!"
fi
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null' EXIT INT TERM

if [ -z "${DATABASE_URL:-}" ]; then mode="embedded: SQLite in var/"; else mode="PostgreSQL"; fi
if [ -z "${REDIS_URL:-}" ]; then broker="filesystem broker in var/broker"; else broker="Redis"; fi
if [ -z "${DATABASE_URL:-}" ] && [ -z "${EMAIL_HOST:-}" ]; then mail=" Emails are written to $VAR_DIR/mail/."; else mail=""; fi
# gunicorn prints this once it listens (scripts/gunicorn_run.conf.py), not before.
export CONTROL_PLANE_BANNER="Control plane on http://$HOST:$PORT/ ($mode, $broker). Log in with a demo user above.$mail Ctrl-C stops."
"$VENV/bin/gunicorn" control_plane.wsgi --config scripts/gunicorn_run.conf.py --bind "$HOST:$PORT" \
  --workers 2 --threads 4 --access-logfile - --log-level warning
