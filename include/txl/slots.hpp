#pragma once
/// @file slots.hpp
/// Moved to `txl/blocks/slots.hpp`; this path forwards there for one release.
#include "blocks/slots.hpp"
