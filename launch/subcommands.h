// The subcommands of the metaps binary. Each parses its own flags and returns
// the process exit code (0 success, 1 job failure, 2 usage error).
#pragma once

namespace metaps {

int PingCommand(int argc, char** argv);
int KeygenCommand(int argc, char** argv);

}  // namespace metaps
