#pragma once
// The version of txl. CMakeLists.txt parses these three lines.
#define TXL_VERSION_MAJOR 0
#define TXL_VERSION_MINOR 1
#define TXL_VERSION_PATCH 0
