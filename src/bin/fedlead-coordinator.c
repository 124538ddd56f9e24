/*
 * fedlead-coordinator: runs a federation for the data team. The program is
 * fl_cmd_coordinator() (src/cli/coordinator_main.c); its settings are the
 * table in src/cli/coordinator_config.c.
 */
#include <locale.h>

#include "fedlead/commands.h"

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "C");
	return fl_cmd_coordinator(argc, argv);
}
