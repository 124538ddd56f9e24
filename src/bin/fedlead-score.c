/*
 * fedlead-score: scores lead files with a trained model, evaluates ranking
 * quality and explains the model. The program is fl_cmd_score()
 * (src/cli/score_main.c); "fedlead-score serve" is the scoring service,
 * fl_cmd_score_serve() (src/cli/score_serve.c).
 */
#include <locale.h>
#include <string.h>

#include "fedlead/cli.h"
#include "fedlead/commands.h"

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "C");
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return fl_cli_close_stdout("fedlead-score", fl_cmd_score_serve(argc - 1, argv + 1));
	return fl_cli_close_stdout("fedlead-score", fl_cmd_score(argc, argv));
}
