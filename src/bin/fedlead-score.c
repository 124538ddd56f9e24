/*
 * fedlead-score: scores lead files with a trained model, evaluates ranking
 * quality and explains the model. The program is fl_cmd_score()
 * (src/cli/score_main.c).
 */
#include <locale.h>

#include "fedlead/cli.h"
#include "fedlead/commands.h"

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "C");
	return fl_cli_close_stdout("fedlead-score", fl_cmd_score(argc, argv));
}
