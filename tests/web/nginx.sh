# nginx.sh: sourced by the bash tests. Runs Debian's real nginx (/usr/sbin/nginx, package
# `nginx`) as a static file server for the download tests, as root or not.
#   nginx_start ROOT_DIR WORK_DIR  serves ROOT_DIR on 127.0.0.1:<free port>, exports
#                                  NGINX_URL=http://127.0.0.1:PORT and NGINX_PID; /slow/PATH is
#                                  ROOT_DIR/PATH sent at 2 MB/s. Everything nginx writes (config,
#                                  pid, error.log, access.log, temp dirs) is under WORK_DIR.
#   nginx_stop                     stops it (safe to call twice; use it in an EXIT trap)
# access.log has one line a request: `GET /f HTTP/1.1 206 100 "bytes=100-199"`.
# Range, ETag and Last-Modified come from nginx's static module; one process (master_process
# off), so it never switches user and reads whatever the test can read.
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

nginx_write_conf() { # root work port
  cat >"$2/nginx.conf" <<EOF
daemon off;
master_process off;
pid $2/nginx.pid;
error_log $2/error.log warn;
events { worker_connections 512; }
http {
  types { application/octet-stream warc gz; text/plain txt paths; }
  default_type application/octet-stream;
  log_format t '\$request \$status \$body_bytes_sent "\$http_range"';
  access_log $2/access.log t;
  client_body_temp_path $2/tmp/client_body;
  proxy_temp_path $2/tmp/proxy;
  fastcgi_temp_path $2/tmp/fastcgi;
  uwsgi_temp_path $2/tmp/uwsgi;
  scgi_temp_path $2/tmp/scgi;
  sendfile on;
  keepalive_timeout 30s;
  server {
    listen 127.0.0.1:$3;
    server_name localhost;
    root $1;
    location / { }
    location = /_nginx_ready { access_log off; return 204; }
    location /slow/ { alias $1/; limit_rate 2m; }
  }
}
EOF
}

nginx_start() { # ROOT_DIR WORK_DIR
  local root work port try i
  root=$(cd "$1" && pwd) && mkdir -p "$2/tmp" && work=$(cd "$2" && pwd) || return 1
  [ -x "$NGINX_BIN" ] || { echo "nginx.sh: $NGINX_BIN not found (run make deps)" >&2; return 1; }
  for try in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nginx_write_conf "$root" "$work" "$port"
    "$NGINX_BIN" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" </dev/null >>"$work/error.log" 2>&1 &
    NGINX_PID=$!
    for i in $(seq 600); do # up to 30 s
      kill -0 "$NGINX_PID" 2>/dev/null || break # it exited: most likely the port was taken
      if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/_nginx_ready"; then
        export NGINX_URL="http://127.0.0.1:$port" NGINX_PID
        return 0
      fi
      sleep 0.05
    done
    nginx_stop
  done
  echo "nginx.sh: nginx did not start; $work/error.log:" >&2
  tail -20 "$work/error.log" >&2
  return 1
}

nginx_stop() {
  [ -n "${NGINX_PID:-}" ] || return 0
  kill "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=
}
