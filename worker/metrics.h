// Moved to common/metrics.h (the scheduler merges evaluation partials).
#pragma once
#include "common/metrics.h"
