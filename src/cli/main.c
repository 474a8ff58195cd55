/* Temporary entry point until the CLI lands. */
#include <stdio.h>
int main(void) { puts("sluice"); return 0; }
