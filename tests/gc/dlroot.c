/* dlroot.c: a library test_roots dlopens; its bss holds a pointer. */
void *gc_test_slot;
