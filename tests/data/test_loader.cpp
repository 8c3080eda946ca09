#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <txl/data/char_tokenizer.hpp>
#include <txl/data/loader.hpp>
#include <txl/data/text_file.hpp>
#include <txl/data/token_ids.hpp>
#include <txl/data/utf8.hpp>

TEST_CASE("SequentialLoader: B contiguous streams, targets one ahead, short last batch, epochs") {
    std::vector<std::int64_t> ids(23);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t(i);
    txl::SequentialLoader loader(ids, 2, 4);  // n = 11 rows: stream 0 is 0..10, stream 1 is 11..21
    CHECK(loader.rows() == 11);
    CHECK(loader.batches_per_epoch() == 3);
    txl::tensor<std::int64_t, 2> x, y;
    loader.next(x, y);
    CHECK(x.shape()[0] == 4);
    CHECK(x(0, 0) == 0);
    CHECK(x(0, 1) == 11);
    CHECK(y(3, 1) == 15);
    loader.next(x, y);
    CHECK(x(0, 0) == 4);  // stream 0 continues where it stopped
    loader.next(x, y);
    CHECK(x.shape()[0] == 2);  // 10 target rows in all: 4 + 4 + 2
    CHECK(y(1, 1) == 21);
    CHECK(loader.at_epoch_start());
    CHECK(loader.epoch == 1);
    CHECK_THROWS_WITH_AS(txl::SequentialLoader(std::vector<std::int64_t>(5), 4, 2, "tiny.txt"),
                         "tiny.txt has 5 characters: too short for one batch of 4 streams (needs at least 8)",
                         txl::shape_error);
}

TEST_CASE("SequentialLoader: compact ids and a slice read exactly as the plain ids") {
    std::vector<std::int64_t> plain(103);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = std::int64_t((i * 37) % 300);
    const txl::TokenIds all = plain;  // 2 bytes each
    txl::SequentialLoader a(std::vector<std::int64_t>(plain.begin() + 3, plain.end()), 4, 5);
    txl::SequentialLoader b(all.slice(3, all.size()), 4, 5);
    txl::tensor<std::int64_t, 2> xa, ya, xb, yb;
    for (int k = 0; k < 12; ++k) {
        a.next(xa, ya);
        b.next(xb, yb);
        CHECK(xa == xb);
        CHECK(ya == yb);
    }
}
