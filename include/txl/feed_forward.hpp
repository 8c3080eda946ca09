#pragma once
/// @file feed_forward.hpp
/// Moved to `txl/blocks/feed_forward.hpp`; this path forwards there for one release.
#include "blocks/feed_forward.hpp"
