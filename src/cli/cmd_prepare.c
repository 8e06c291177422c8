#include "cli/cli.h"
int cmd_prepare(int argc, char **argv) { (void)argc; (void)argv; return cli_failf("prepare: not yet"); }
