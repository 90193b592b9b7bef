/* UUID text parsing is the gate for every id a client sends: only the canonical form passes. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "common/ident.h"

/* Criterion runs each case in a fresh process, so parameters hold arrays, not pointers. */
struct uuid_case {
    char text[48];
    int ok;
};

ParameterizedTestParameters(ident, parse)
{
    static struct uuid_case cases[] = {
        {"123e4567-e89b-12d3-a456-426614174000", 1},
        {"123E4567-E89B-12D3-A456-426614174000", 1},
        {"00000000-0000-0000-0000-000000000000", 1},
        {"", 0},
        {"123e4567e89b12d3a456426614174000", 0},      /* no hyphens */
        {"123e4567-e89b-12d3-a456-42661417400", 0},   /* short */
        {"123e4567-e89b-12d3-a456-4266141740000", 0}, /* long */
        {"123e4567-e89b-12d3-a456_426614174000", 0},  /* wrong separator */
        {"123e4567-e89b-12d3-a456-42661417400g", 0},  /* not hex */
        {"{23e4567-e89b-12d3-a456-426614174000", 0},
        {"123e4567-e89b-12d3-a45-6426614174000", 0}, /* hyphen misplaced */
        {"' OR 1=1 --                         ", 0},
    };
    return cr_make_param_array(struct uuid_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct uuid_case *c, ident, parse)
{
    uint8_t u[16];
    int rc = ident_uuid_parse(c->text, strlen(c->text), u);
    cr_expect_eq(rc == 0, c->ok, "\"%s\"", c->text);
}

Test(ident, format_round_trip_is_lowercase)
{
    uint8_t u[16];
    char out[37];
    cr_assert_eq(ident_uuid_parse("123E4567-E89B-12D3-A456-426614174000", 36, u), 0);
    ident_uuid_format(u, out);
    cr_expect_str_eq(out, "123e4567-e89b-12d3-a456-426614174000");
}

Test(ident, schema_name_is_tenant_and_32_hex)
{
    uint8_t u[16];
    char out[IDENT_SCHEMA_LEN + 1];
    cr_assert_eq(ident_uuid_parse("123e4567-e89b-12d3-a456-426614174000", 36, u), 0);
    ident_schema_name(u, out);
    cr_expect_str_eq(out, "tenant_123e4567e89b12d3a456426614174000");
}

Test(ident, random_is_version_4)
{
    uint8_t a[16], b[16];
    ident_uuid_random(a);
    ident_uuid_random(b);
    cr_expect_eq(a[6] >> 4, 4);
    cr_expect_eq(a[8] >> 6, 2);
    cr_expect_neq(memcmp(a, b, 16), 0);
}
