# Sourced by the bench scripts after bench/stack.sh: seed_tenant I makes bench tenant I through
# the API and seeds it (bench/seed.sql); it needs URL, AUTH, PSQL and WORK.

# field NAME: a string member of the flat JSON object on stdin.
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
login() { # tenant email password -> access token
  curl -sf -X POST "$URL/api/auth/login" -H "X-Tenant-ID: $1" \
    -d "{\"email\":\"$2\",\"password\":\"$3\"}" | field access_token
}

# One tenant: created through the API, its admin's temporary password changed, seeded by SQL,
# a member logged in. Prints "tenant<TAB>member token<TAB>email<TAB>password<TAB>quiz ids".
seed_tenant() {
  local i=$1 created id temp token pw="bench-password-$1" schema quizzes member
  created=$(curl -sf -X POST "$URL/api/tenants/" -H "Authorization: $AUTH" \
    -d "{\"tenant_name\":\"Bench $i\",\"owner_email\":\"admin$i@bench.example\"}") || return 1
  id=$(echo "$created" | field tenant_id)
  temp=$(echo "$created" | field temp_password)
  token=$(login "$id" "admin$i@bench.example" "$temp")
  curl -sf -X POST "$URL/api/users/me/password" -H "X-Tenant-ID: $id" -H "Authorization: Bearer $token" \
    -d "{\"current_password\":\"$temp\",\"new_password\":\"$pw\"}" >/dev/null || return 1
  schema=tenant_$(echo "$id" | tr -d -)
  quizzes=$("${PSQL[@]}" -v schema="$schema" -f bench/seed.sql | tail -n 1)
  member=$(login "$id" "member1@bench.example" "$pw")
  token=$(login "$id" "admin$i@bench.example" "$pw") # one without the password change pending
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$member" "member1@bench.example" "$pw" "$quizzes" "$token"
  # The sql ceiling's script for this tenant, for the same member.
  local uid
  uid=$("${PSQL[@]}" -c "SELECT id FROM $schema.users WHERE email = 'member1@bench.example'")
  sed -e "s/@SCHEMA@/$schema/g" -e "s/@USER@/$uid/g" bench/sql_quiz_get.sql.in > "$WORK/sql_$i.sql"
  sed -e "s/@SCHEMA@/$schema/g" -e "s/@USER@/$uid/g" bench/sql_json_quiz_get.sql.in \
    > "$WORK/sql_json_$i.sql"
  sed -e "s/@SCHEMA@/$schema/g" bench/sql_point.sql.in > "$WORK/sql_point_$i.sql"
}
