/* CurveZMQ key files: what quizctl writes is what the daemons load, secret files must be
 * private, and anything but one Z85 key is refused with a reason. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/curve.h"

static char s_dir[64];

static void setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/test-curve.XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(curve, .init = setup, .fini = teardown);

static void s_path(char *out, size_t len, const char *file)
{
    snprintf(out, len, "%s/%s", s_dir, file);
}

static void s_write(const char *file, const char *text, mode_t mode)
{
    char path[128];
    s_path(path, sizeof path, file);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

Test(curve, generated_keys_load_back)
{
    curve_keypair_t made, loaded;
    char err[256], path[128], pub[CURVE_KEY_LEN + 1];
    cr_assert_eq(curve_keypair_generate(s_dir, "gw-1", &made, err, sizeof err), 0, "%s", err);
    s_path(path, sizeof path, "gw-1.secret");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(curve_keypair_load(path, &loaded, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(loaded.public_key, made.public_key);
    cr_expect_str_eq(loaded.secret_key, made.secret_key);
    s_path(path, sizeof path, "gw-1.pub");
    cr_assert_eq(curve_public_load(path, pub, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(pub, made.public_key);
    curve_keypair_clear(&loaded);
    cr_expect_eq(loaded.secret_key[0], '\0');
}

Test(curve, existing_keys_are_never_overwritten)
{
    curve_keypair_t a, b;
    char err[256];
    cr_assert_eq(curve_keypair_generate(s_dir, "w", &a, err, sizeof err), 0);
    cr_expect_eq(curve_keypair_generate(s_dir, "w", &b, err, sizeof err), -1);
    cr_expect(strstr(err, "exists") != NULL, "%s", err);
}

Test(curve, key_names_cannot_leave_the_directory)
{
    curve_keypair_t kp;
    char err[256];
    const char *bad[] = {"", "../x", "a/b", ".hidden", "sp ace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(curve_keypair_generate(s_dir, bad[i], &kp, err, sizeof err), -1, "%s", bad[i]);
}

Test(curve, a_secret_open_to_others_is_refused)
{
    curve_keypair_t kp;
    char err[256], path[128];
    cr_assert_eq(curve_keypair_generate(s_dir, "w", &kp, err, sizeof err), 0);
    s_path(path, sizeof path, "w.secret");
    chmod(path, 0604);
    cr_expect_eq(curve_keypair_load(path, &kp, err, sizeof err), -1);
    cr_expect(strstr(err, "open to other users") != NULL, "%s", err);
    chmod(path, 0440); /* a Kubernetes secret mounted with fsGroup */
    cr_expect_eq(curve_keypair_load(path, &kp, err, sizeof err), 0, "%s", err);
}

Test(curve, malformed_key_files_are_refused)
{
    const char *bad[] = {"", "short\n", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\nextra-on-line",
                         "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hIDx\n",
                         "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{h\"D\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char pub[CURVE_KEY_LEN + 1], err[256], path[128];
        s_write("k.pub", bad[i], 0644);
        s_path(path, sizeof path, "k.pub");
        int rc = curve_public_load(path, pub, err, sizeof err);
        if (i == 2) /* a valid first line; what follows it is not read */
            cr_expect_eq(rc, 0, "%s", err);
        else
            cr_expect_eq(rc, -1, "case %zu accepted", i);
    }
    char pub[CURVE_KEY_LEN + 1], err[256];
    cr_expect_eq(curve_public_load("/nonexistent/k.pub", pub, err, sizeof err), -1);
    cr_expect(strstr(err, "cannot read") != NULL, "%s", err);
}
