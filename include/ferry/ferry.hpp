// The umbrella header a flow source includes.
#pragma once

#include "ferry/codec.hpp"
#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "ferry/result.hpp"
#include "ferry/state.hpp"
#include "ferry/storage/local.hpp"
#include "ferry/storage/module.hpp"
#include "ferry/storage/storage.hpp"
#include "ferry/storage/webhook.hpp"
#include "ferry/task.hpp"
#include "ferry/version.hpp"
