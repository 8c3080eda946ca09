#pragma once
/// @file data.hpp
/// Moved to `txl/data/` (`utf8.hpp`, `char_tokenizer.hpp`, `token_ids.hpp`, `text_file.hpp`,
/// `loader.hpp`); this path forwards there for one release.
#include "data/utf8.hpp"
#include "data/char_tokenizer.hpp"
#include "data/token_ids.hpp"
#include "data/text_file.hpp"
#include "data/loader.hpp"
