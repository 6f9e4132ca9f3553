#include <stdio.h>
void f(char *in, int n) {
    char buf[16];
    char *p;
    // ruleid: vulnsight.c.gets
    gets(buf);
    // ruleid: vulnsight.c.unbounded-string-copy
    strcpy(buf, in);
    // ok: vulnsight.c.unbounded-string-copy
    strcpy(buf, "abc");
    // ruleid: vulnsight.c.unbounded-string-copy
    sprintf(buf, "%s", in);
    // ok: vulnsight.c.unbounded-string-copy
    sprintf(buf, "%d", n);
    // ruleid: vulnsight.c.scanf-unbounded-string
    scanf("%s", buf);
    // ok: vulnsight.c.scanf-unbounded-string
    scanf("%15s", buf);
    // ruleid: vulnsight.c.format-string-variable
    printf(in);
    // ok: vulnsight.c.format-string-variable
    printf("%s", in);
    // ruleid: vulnsight.c.format-string-variable
    fprintf(stdout, in);
    // ruleid: vulnsight.c.system-non-constant
    system(in);
    // ok: vulnsight.c.system-non-constant
    system("ls");
    // ruleid: vulnsight.c.bounded-copy-source-length
    memcpy(buf, in, strlen(in));
    // ok: vulnsight.c.bounded-copy-source-length
    memcpy(buf, in, sizeof(buf));
    // ruleid: vulnsight.c.malloc-null-deref
    p = malloc(n);
    p[0] = 'a';
    // ruleid: vulnsight.c.double-free
    free(p);
    // ruleid: vulnsight.c.use-after-free
    printf("%s", p);
    free(p);
    // ruleid: vulnsight.c.insecure-tempfile
    tmpnam(buf);
    // ruleid: vulnsight.c.insecure-random
    n = rand();
}
void g(void) {
    char data[100];
    fgets(data, 100, stdin);
    // ruleid: vulnsight.c.format-string-variable
    printf(data);
    // ruleid: vulnsight.c.command-injection, vulnsight.c.system-non-constant
    system(data);
    char *q = malloc(10);
    if (q == NULL) return;
    // ok: vulnsight.c.malloc-null-deref
    q[0] = 1;
}
void h(char *data) {
    data = (char *)malloc(100*sizeof(char));
    if (data == NULL) {exit(-1);}
    free(data);
    data = NULL;
    free(data);
}
#define TEMPLATE "id%03d"
void formats(char *out, int id, const char *name, char **argv) {
    // ok: vulnsight.c.unbounded-string-copy
    sprintf(out, TEMPLATE, id);
    // ok: vulnsight.c.unbounded-string-copy
    sprintf(out, "item-%04d", id);
    // ruleid: vulnsight.c.unbounded-string-copy
    sprintf(out, "user %s", name);
    // ruleid: vulnsight.c.format-string-non-literal
    printf(argv[1]);
    // ok: vulnsight.c.format-string-non-literal
    printf(_("hello"));
}
void log_line(const char *line) {
    // ruleid: vulnsight.c.format-string-variable
    printf(line);
}
void vlog(const char *fmt) {
    // ok: vulnsight.c.format-string-variable
    printf(fmt);
}
char *join(const char *dir, const char *name) {
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (!path) return NULL;
    // ok: vulnsight.c.unbounded-string-copy
    strcpy(path, dir);
    // ok: vulnsight.c.unbounded-string-copy
    strcat(path, name);
    char *copy = malloc(strlen(name) + 1);
    if (!copy) return NULL;
    // ok: vulnsight.c.unbounded-string-copy
    strcpy(copy, name);
    return path;
}
void wrap_v(char *out, const char *msg, va_list ap) {
    // ok: vulnsight.c.format-string-variable
    vsnprintf(out, 64, msg, ap);
}
void wrap(char *out, const char *msg, ...) {
    va_list ap;
    va_start(ap, msg);
    // ok: vulnsight.c.format-string-variable
    vsnprintf(out, 64, msg, ap);
    va_end(ap);
}
void bad_v(char *data, ...) {
    va_list ap;
    va_start(ap, data);
    // ruleid: vulnsight.c.format-string-variable
    vprintf(data, ap);
    va_end(ap);
}
char *dup_at(const char *pre, const char *s) {
    char *t = malloc(strlen(s) + strlen(pre) + 1);
    if (!t) return NULL;
    // ok: vulnsight.c.unbounded-string-copy
    strcpy(t + 0, pre);
    // ok: vulnsight.c.unbounded-string-copy
    strcpy(t + strlen(pre), s);
    return t;
}
void floats(char *out, double v) {
    // ruleid: vulnsight.c.unbounded-string-copy
    sprintf(out, "%f", v);
    // ruleid: vulnsight.c.unbounded-string-copy
    sprintf(out, "v=%.2lf", v);
}
