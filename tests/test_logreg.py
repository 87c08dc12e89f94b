"""The Theano tutorial's logistic regression, run with ``import tvmsym as theano``,
against a numpy implementation of the same maths."""
import numpy
import pytest

import tvmsym as theano

T = theano.tensor

STEPS = 300


def numpy_logreg(D, w0, b0, steps):
    x, y = D
    w, b = w0.copy(), float(b0)
    losses = []
    for _ in range(steps):
        z = x @ w + b
        p = 1 / (1 + numpy.exp(-z))
        # -log(p) and -log(1 - p) computed without rounding p to 0 or 1
        xent = y * numpy.logaddexp(0, -z) + (1 - y) * numpy.logaddexp(0, z)
        losses.append(xent.mean() + 0.01 * (w ** 2).sum())
        d = (p - y) / len(y)                       # d mean(xent) / d (x.w + b)
        gw = x.T @ d + 0.02 * w
        gb = d.sum()
        w, b = w - 0.1 * gw, b - 0.1 * gb
    return w, b, losses


@pytest.fixture(scope="module")
def tutorial():
    """The tutorial's code, verbatim except the step count and a fixed seed."""
    rng = numpy.random
    rng.seed(1234)
    N = 400                                   # training sample size
    feats = 784                               # number of input variables
    # generate a dataset: D = (input_values, target_class)
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    training_steps = STEPS
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(rng.randn(feats), name="w")
    b = theano.shared(0., name="b")
    w0, b0 = w.get_value(), b.get_value()
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))   # Probability that target = 1
    prediction = p_1 > 0.5                    # The prediction thresholded
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)   # Cross-entropy loss function
    cost = xent.mean() + 0.01 * (w ** 2).sum()          # The cost to minimize
    gw, gb = T.grad(cost, [w, b])             # Compute the gradient of the cost
    train = theano.function(
        inputs=[x, y],
        outputs=[prediction, xent],
        updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = theano.function(inputs=[x], outputs=prediction)
    loss = theano.function(inputs=[x, y], outputs=cost)
    losses = []
    for i in range(training_steps):
        losses.append(float(loss(D[0], D[1])))
        pred, err = train(D[0], D[1])
    return dict(D=D, w=w, b=b, w0=w0, b0=b0, pred=pred, err=err, predict=predict,
                losses=losses, train=train)


def test_shapes_and_types(tutorial):
    t = tutorial
    assert t["w"].get_value().shape == (784,)
    assert t["b"].get_value().shape == ()
    assert t["pred"].shape == (400,) and t["pred"].dtype == bool
    assert t["err"].shape == (400,) and t["err"].dtype == numpy.float64
    assert t["predict"](t["D"][0]).shape == (400,)


def test_training_curve_matches_numpy(tutorial):
    t = tutorial
    w_ref, b_ref, losses_ref = numpy_logreg(t["D"], t["w0"], t["b0"], STEPS)
    losses = numpy.array(t["losses"])
    assert numpy.all(numpy.isfinite(losses))
    assert losses[-1] < losses[0] / 10
    assert numpy.all(numpy.diff(losses) < 0)        # full-batch gradient descent: monotone
    numpy.testing.assert_allclose(losses, losses_ref, rtol=1e-9)
    numpy.testing.assert_allclose(t["w"].get_value(), w_ref, rtol=1e-9, atol=1e-12)
    assert t["b"].get_value() == pytest.approx(b_ref, rel=1e-9, abs=1e-12)


def test_accuracy_matches_numpy(tutorial):
    t = tutorial
    x, y = t["D"]
    w_ref, b_ref, _ = numpy_logreg(t["D"], t["w0"], t["b0"], STEPS)
    ours = (t["predict"](x) == y).mean()
    ref = ((1 / (1 + numpy.exp(-x @ w_ref - b_ref)) > 0.5) == y).mean()
    assert ours == ref
    assert ours > 0.99


def test_train_graph_is_stable_and_fused(tutorial):
    text = theano.printing.debugprint(tutorial["train"], file="str")
    assert "sigmoid" in text and "softplus" in text          # stabilized: no log(0)
    ops = [n.op for n in tutorial["train"].maker.fgraph.toposort()]
    assert sum(type(o).__name__ == "Dot" for o in ops) == 2   # forward x.w and backward x.T.d
