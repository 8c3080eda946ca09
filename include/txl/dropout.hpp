#pragma once
/// @file dropout.hpp
/// Moved to `txl/blocks/dropout.hpp`; this path forwards there for one release.
#include "blocks/dropout.hpp"
