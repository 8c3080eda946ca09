#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <txl/data/char_tokenizer.hpp>
#include <txl/data/loader.hpp>
#include <txl/data/text_file.hpp>
#include <txl/data/token_ids.hpp>
#include <txl/data/utf8.hpp>

TEST_CASE("TokenIds: the fewest bytes per id, shared slices, plain ids in and out") {
    CHECK(txl::TokenIds(10, 65).width() == 1);
    CHECK(txl::TokenIds(10, 256).width() == 1);
    CHECK(txl::TokenIds(10, 257).width() == 2);
    CHECK(txl::TokenIds(10, 65536).width() == 2);
    CHECK(txl::TokenIds(10, 70000).width() == 4);
    const std::vector<std::int64_t> plain{0, 300, 7, 65535, 2};
    const txl::TokenIds ids = plain;  // converts: 2 bytes each
    CHECK(ids.width() == 2);
    CHECK(ids.to_vector() == plain);
    const auto tail = ids.slice(1, 4);
    CHECK(tail.size() == 3);
    CHECK(tail[0] == 300);
    CHECK(tail[2] == 65535);
    CHECK(tail.storage_bytes() == 10);  // shared, not copied
    const txl::TokenIds wide = std::vector<std::int64_t>{70000, 1};
    CHECK(wide.width() == 4);
    CHECK(wide[0] == 70000);
    CHECK_THROWS_AS(txl::TokenIds(std::vector<std::int64_t>{1, -1}), txl::shape_error);
    CHECK_THROWS_AS(ids.slice(3, 6), txl::shape_error);
    auto [train, valid] = txl::split_train_valid(txl::TokenIds(1115394, 65));
    CHECK(train.size() == 1003854);
    CHECK(valid.size() == 111540);
    CHECK(valid.storage_bytes() == 1115394);
}
