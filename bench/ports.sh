# Sourced by the bench scripts. free_port BASE SPAN: a random port in [BASE, BASE+SPAN) that no
# one listens on now, so a leftover cluster or a test run next door cannot collide with ours.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$(($1 + RANDOM % $2))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port in $1+$2" >&2; return 1
}
