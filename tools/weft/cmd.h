/* The subcommands of the `weft` command. */
#ifndef WEFT_TOOL_CMD_H
#define WEFT_TOOL_CMD_H
int weft_cmd_fetch(int argc, char **argv);
int weft_cmd_serve(int argc, char **argv);
int weft_cmd_ws(int argc, char **argv);
#endif
