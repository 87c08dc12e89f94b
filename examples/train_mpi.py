"""Data-parallel training of a small MLP with tvmsym.distributed.

    mpiexec -n 2 python examples/train_mpi.py      # 2 ranks, each half of every batch
    python examples/train_mpi.py                   # the same script on one process

Every rank builds the same model; ``dist.broadcast_shared`` gives all of them rank 0's
initial weights, each step every rank takes its rows of the batch (``dist.shard``), and
the gradients are averaged over the ranks by ``dist.allreduce`` inside the compiled step
(one message per step: the four allreduces are bucketed).  The printed losses and the
final weights are the same whatever the number of ranks.
"""
import numpy as np

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym import distributed as dist

BATCH, NIN, NH, NOUT, STEPS, LR = 64, 20, 32, 4, 60, np.float32(0.5)

# a synthetic classification task: the same data on every rank (seeded)
rng = np.random.default_rng(0)
centers = rng.standard_normal((NOUT, NIN)).astype("float32") * 2
labels = rng.integers(0, NOUT, STEPS * BATCH)
X = (centers[labels] + rng.standard_normal((STEPS * BATCH, NIN))).astype("float32")
Y = np.eye(NOUT, dtype="float32")[labels]
batches = [(X[i:i + BATCH], Y[i:i + BATCH]) for i in range(0, len(X), BATCH)]

# the model, written as for one machine; the weights differ per rank until broadcast
init = np.random.default_rng(dist.rank())
params = [theano.shared((init.standard_normal(s) * 0.1).astype("float32"), name=n)
          for s, n in [((NIN, NH), "W1"), ((NH,), "b1"), ((NH, NOUT), "W2"), ((NOUT,), "b2")]]
W1, b1, W2, b2 = params
x, y = T.fmatrix("x"), T.fmatrix("y")
p = T.nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
loss = T.nnet.categorical_crossentropy(p, y).mean()
# mean over the ranks of their mean loss's gradient = the gradient of the global batch's mean
# loss (every rank has BATCH / size rows); one graph op per gradient, one message in all
grads = [dist.allreduce(g, op="mean") for g in theano.grad(loss, params)]
global_loss = dist.allreduce(loss, op="mean")
train = theano.function([x, y], global_loss,
                        updates=[(q, q - LR * g) for q, g in zip(params, grads)])

dist.broadcast_shared(params, root=0)          # the same initial weights everywhere
dist.reset_stats()
for step, (xb, yb) in enumerate(dist.shard(batches)):
    value = train(xb, yb)
    if dist.rank() == 0 and step % 20 == 0:
        print(f"step {step:3d}  loss {float(value):.4f}")

comm = dist.stats()
predict = theano.function([x], T.argmax(p, axis=1))
accuracy = float((predict(X) == labels).mean())
if dist.rank() == 0:
    print(f"{dist.size()} rank(s): final loss {float(value):.4f}, training accuracy {accuracy:.3f}, "
          f"|W1| {float(np.abs(W1.get_value()).sum()):.4f}")
    print(f"per step: {comm['messages'] / STEPS:g} message(s), {comm['bytes'] / STEPS:.0f} bytes, "
          f"{comm['seconds'] / STEPS * 1e3:.3f} ms in MPI "
          "(see theano.printing.debugprint(train): one AllReduce{mean} of a Join)")
