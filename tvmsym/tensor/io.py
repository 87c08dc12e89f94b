"""``theano.tensor.io``: Theano's MPI point-to-point ops under their Theano names.

``send``/``recv`` (blocking), ``isend``/``irecv`` (non-blocking: a request and the data)
and the wait ops ``MPISendWait``/``MPIRecvWait``; ``mpi_send_wait_key``, ``mpi_tag_key``,
``mpi_keys``, ``mpi_cmps`` (the order tvmsym's executor applies by default).  They run
over MPI when the script is started by ``mpiexec`` (see ``tvmsym.distributed``); a single
process can message itself (rank 0).
"""
from .. import distributed as _distributed  # noqa: F401  (installs the MPI backend)
from ..symbolic.ops.p2p import (  # noqa: F401
                                MPIRecv,
                                MPIRecvWait,
                                MPISend,
                                MPISendWait,
                                irecv,
                                isend,
                                mpi_cmps,
                                mpi_keys,
                                mpi_send_wait_cmp,
                                mpi_send_wait_key,
                                mpi_tag_cmp,
                                mpi_tag_key,
                                recv,
                                send,
)

__all__ = ["MPIRecv", "MPIRecvWait", "MPISend", "MPISendWait", "irecv", "isend", "recv", "send",
           "mpi_cmps", "mpi_keys", "mpi_send_wait_cmp", "mpi_send_wait_key", "mpi_tag_cmp",
           "mpi_tag_key"]
