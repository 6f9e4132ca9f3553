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
