// The CPU KernelBackend: Eigen over mapped buffers (no copies). Always built;
// it is the specification every other backend is tested against.
#pragma once

#include <memory>

#include "kernels/backend.h"

namespace metaps {

// Stateless, so one instance may be shared by threads.
std::unique_ptr<KernelBackend> MakeCpuBackend();

}  // namespace metaps
