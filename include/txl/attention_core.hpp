#pragma once
/// @file attention_core.hpp
/// Moved to `txl/blocks/attention_core.hpp`; this path forwards there for one release.
#include "blocks/attention_core.hpp"
