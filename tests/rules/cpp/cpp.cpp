void f() {
    char * data = new char[100];
    delete [] data;
    // ruleid: vulnsight.cpp.use-after-free
    printLine(data);
    int *p = new int;
    // ruleid: vulnsight.cpp.double-free
    delete p;
    delete p;
    char buf[10];
    // ruleid: vulnsight.cpp.unbounded-string-copy, vulnsight.cpp.use-after-free
    strcpy(buf, data);
}
void qualified(const char *name, const char *banner) {
    char buf[16];
    // ruleid: vulnsight.cpp.unbounded-string-copy
    std::strcpy(buf, name);
    // ruleid: vulnsight.cpp.format-string-variable
    std::printf(banner);
    // ruleid: vulnsight.cpp.system-non-constant
    std::system(buf);
    // ok: vulnsight.cpp.unbounded-string-copy
    std::sprintf(buf, "%02x", 7);
}
