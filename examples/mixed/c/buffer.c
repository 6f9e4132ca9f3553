#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 32

struct user {
    char name[NAME_MAX_LEN];
    int id;
};

/* Copies a user name into a fixed buffer without checking its length. */
void set_name(struct user *u, const char *name)
{
    strcpy(u->name, name);
}

void set_name_safe(struct user *u, const char *name)
{
    snprintf(u->name, sizeof(u->name), "%s", name);
}

void log_message(const char *msg)
{
    printf(msg);
}

void log_message_safe(const char *msg)
{
    printf("%s\n", msg);
}

int run_backup(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "tar czf /tmp/backup.tgz %s", dir);
    return system(cmd);
}

char *duplicate(const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n + 1);
    return copy;
}

void release(struct user *u)
{
    free(u);
    printf("released user %d\n", u->id);
}

int main(int argc, char **argv)
{
    struct user *u = malloc(sizeof(*u));
    if (u == NULL || argc < 2)
        return 1;
    set_name(u, argv[1]);
    log_message(argv[1]);
    run_backup(argv[1]);
    release(u);
    return 0;
}
