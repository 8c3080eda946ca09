#include "../gradcheck.hpp"

TEST_CASE("Schedule: Noam is labml's formula; constant and cosine warm up and decay") {
    txl::Schedule noam{txl::Schedule::Kind::noam, 1.0, 2000, 128, 0, 0};
    CHECK(noam(1) == doctest::Approx(std::pow(128.0, -0.5) * std::pow(2000.0, -1.5)));
    CHECK(noam(2000) == doctest::Approx(std::pow(128.0, -0.5) / std::sqrt(2000.0)));
    CHECK(noam(8000) == doctest::Approx(std::pow(128.0, -0.5) / std::sqrt(8000.0)));
    txl::Schedule cosine{txl::Schedule::Kind::cosine, 1e-3, 10, 128, 110, 1e-4};
    CHECK(cosine(5) == doctest::Approx(5e-4));
    CHECK(cosine(60) == doctest::Approx(1e-4 + 0.5 * 9e-4));
    CHECK(cosine(110) == doctest::Approx(1e-4));
    txl::Schedule constant{txl::Schedule::Kind::constant, 2e-3, 0, 128, 0, 0};
    CHECK(constant(1) == 2e-3);
    CHECK_THROWS_AS(txl::Schedule::parse("linear"), txl::error);
}

TEST_CASE("Adam: labml's optimized update, step by step") {
    txl::Linear<double> lin(1, 1, false);
    lin.weight.value(0, 0) = 0.5;
    txl::Adam<double> adam;
    adam.attach(lin);
    double m = 0, v = 0, theta = 0.5;
    const double grads[3] = {0.3, -0.1, 0.2};
    for (int t = 1; t <= 3; ++t) {
        lin.weight.grad(0, 0) = grads[t - 1];
        adam.step(0.01);
        m = 0.9 * m + 0.1 * grads[t - 1];
        v = 0.999 * v + 0.001 * grads[t - 1] * grads[t - 1];
        theta -= 0.01 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t)) * m / (std::sqrt(v) + 1e-8);
        CHECK(lin.weight.value(0, 0) == doctest::Approx(theta).epsilon(1e-15));
    }
}

TEST_CASE("clip_grad_norm: scales to the limit only when above it") {
    txl::Linear<double> lin(2, 2, true);
    lin.weight.grad = {{3, 0}, {0, 0}};
    lin.bias.grad = {4, 0};
    CHECK(txl::clip_grad_norm(lin, 10.0) == doctest::Approx(5.0));
    CHECK(lin.weight.grad(0, 0) == 3.0);
    CHECK(txl::clip_grad_norm(lin, 1.0) == doctest::Approx(5.0));
    CHECK(lin.weight.grad(0, 0) == doctest::Approx(0.6).epsilon(1e-6));
    CHECK(lin.bias.grad(0) == doctest::Approx(0.8).epsilon(1e-6));
}

TEST_CASE("Schedule: a cosine schedule without its end holds the peak after warm-up") {
    txl::Schedule cosine{txl::Schedule::Kind::cosine, 1e-3, 10, 128, 0, 1e-4};
    CHECK(cosine(5) == doctest::Approx(5e-4));
    CHECK(cosine(10) == 1e-3);
    CHECK(cosine(100000) == 1e-3);
    cosine.total = 110;  // fixed later (a time budget): decays from there
    CHECK(cosine(60) == doctest::Approx(1e-4 + 0.5 * 9e-4));
}

TEST_CASE("AdamW: decoupled decay of weights, not of biases or LayerNorm") {
    txl::Linear<double> lin(2, 2, true);
    lin.weight.value = {{1.0, -2.0}, {0.5, 4.0}};
    lin.bias.value = {3.0, -1.0};
    CHECK(txl::Adam<double>::decays("layers.0.self_attn.query.linear.weight"));
    CHECK(txl::Adam<double>::decays("layers.0.self_attn.key_pos_embeddings"));
    CHECK(!txl::Adam<double>::decays("layers.0.self_attn.key_pos_bias"));
    CHECK(!txl::Adam<double>::decays("layers.0.norm_ff.weight"));
    CHECK(!txl::Adam<double>::decays("generator.bias"));
    txl::Adam<double> adam;
    adam.weight_decay = 0.1;
    adam.attach(lin);
    // A zero gradient: the Adam part is 0 / (0 + eps) = 0, only the decay acts.
    adam.step(0.01);
    CHECK(lin.weight.value(0, 1) == doctest::Approx(-2.0 * (1 - 0.01 * 0.1)).epsilon(1e-15));
    CHECK(lin.weight.value(1, 1) == doctest::Approx(4.0 * (1 - 0.01 * 0.1)).epsilon(1e-15));
    CHECK(lin.bias.value(0) == 3.0);
    // With a gradient: decay, then labml's Adam step.
    lin.weight.grad(0, 0) = 0.3;
    const double before = lin.weight.value(0, 0);
    adam.step(0.02);
    const double m = 0.1 * 0.3, v = 0.001 * 0.09;
    const double expect = before * (1 - 0.02 * 0.1) -
                          0.02 * std::sqrt(1 - std::pow(0.999, 2)) / (1 - std::pow(0.9, 2)) * m / (std::sqrt(v) + 1e-8);
    CHECK(lin.weight.value(0, 0) == doctest::Approx(expect).epsilon(1e-14));
}

TEST_CASE("TimeBudget: a cosine's end fitted to the time left") {
    txl::Schedule s{txl::Schedule::Kind::cosine, 3e-3, 200, 128, 0, 1e-4};
    const txl::TimeBudget budget{600};
    CHECK_FALSE(budget.ready(s, 150, 150, 30));            // still warming up
    CHECK_FALSE(budget.ready(s, 201, 10, 20));             // 10 steps in a twentieth of the budget: too few
    CHECK(budget.ready(s, 201, 10, 61));                   // ... in a tenth of it: slow steps, fit now
    CHECK(budget.ready(s, 220, 20, 10));                   // 20 steps
    CHECK_FALSE(txl::TimeBudget{}.ready(s, 220, 20, 10));  // no budget
    // 220 steps in 22 s (0.1 s each), a validation of 5 s every 500 steps, 600 - 27 s left:
    // 0.98 * 573 / (0.1 + 0.01) = 5104.9 more steps.
    CHECK(budget.fit(220, 220, 22.0, 5.0, 500, 27.0) == 220 + 5104);
    CHECK(budget.fit(220, 220, 22.0, 5.0, 500, 700.0) == 221);  // past the budget: one more step
    s.total = 5324;
    CHECK_FALSE(budget.ready(s, 400, 400, 40));  // fixed already (a resumed run keeps it)
    s.kind = txl::Schedule::Kind::noam;
    s.total = 0;
    CHECK_FALSE(budget.ready(s, 400, 400, 40));  // only a cosine has an end to fit
}
