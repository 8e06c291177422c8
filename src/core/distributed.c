/* The ranks of an MPI job: Open MPI's collectives on MPI_COMM_WORLD, or one
 * rank and no MPI at all (a build without MPI, or a process started alone). */
#include "sonodream/distributed.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SONO_HAVE_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1;
static _Atomic long long waiting_ns;          /* start of the collective in progress, 0: none */
static _Atomic(const char *) waiting_what;
static double seconds_in_collectives;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int sono_dist_rank(void) { return dist_rank; }
int sono_dist_size(void) { return dist_size; }
double sono_dist_seconds(void) { return seconds_in_collectives; }

double sono_dist_waiting_since(const char **what) {
    long long since = atomic_load(&waiting_ns);
    if (what) *what = atomic_load(&waiting_what);
    return since ? 1e-9 * (double)since : 0;
}

void sono_dist_share(int64_t n, int rank, int size, int64_t *first, int64_t *count) {
    int64_t base = n / size, extra = n % size;
    *count = base + (rank < extra);
    *first = rank * base + (rank < extra ? rank : extra);
}

static inline void begin_wait(const char *what) {
    atomic_store(&waiting_what, what);
    atomic_store(&waiting_ns, now_ns());
}

static inline void end_wait(void) {
    long long since = atomic_exchange(&waiting_ns, 0);
    seconds_in_collectives += 1e-9 * (double)(now_ns() - since);
}

/* Launchers say so in the environment: Open MPI, PMIx (Slurm, Open MPI 5),
 * Hydra (MPICH). */
static int launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

#ifdef SONO_HAVE_MPI

int sono_dist_compiled(void) { return 1; }

static int dist_joined = 0;

/* A process started alone never calls MPI_Init, which would start a
 * singleton runtime for nothing. */
sono_status sono_dist_init(int *argc, char ***argv, sono_error *err) {
    if (dist_joined || !launched_by_mpi()) return SONO_OK;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return sono_error_set(err, SONO_ERR_IO, "MPI_Init failed");
    dist_joined = 1;
    /* Errors come back as codes: a dead peer becomes a message, not a hang. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    return SONO_OK;
}

void sono_dist_finalize(void) {
    if (dist_joined) MPI_Finalize();
    dist_joined = 0;
    dist_rank = 0, dist_size = 1;
}

void sono_dist_abort(int code) {
    if (dist_joined && dist_size > 1) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

static sono_status mpi_failed(int rc, const char *op, const char *what, sono_error *err) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return sono_error_set(err, SONO_ERR_IO, "%s (%s) failed: %s; another rank died or cannot be reached", op, what,
                          text);
}

/* MPI counts are int: long arrays go in pieces. */
#define MPI_PIECE (INT_MAX / 8)

static sono_status sum(void *data, size_t count, MPI_Datatype type, size_t size, const char *what, sono_error *err) {
    if (dist_size == 1) return SONO_OK;
    begin_wait(what);
    int rc = MPI_SUCCESS;
    for (size_t done = 0; rc == MPI_SUCCESS && done < count; done += MPI_PIECE) {
        int n = (int)(count - done < MPI_PIECE ? count - done : MPI_PIECE);
        rc = MPI_Allreduce(MPI_IN_PLACE, (char *)data + done * size, n, type, MPI_SUM, MPI_COMM_WORLD);
    }
    end_wait();
    return rc == MPI_SUCCESS ? SONO_OK : mpi_failed(rc, "MPI_Allreduce", what, err);
}

sono_status sono_dist_sum_f32(float *data, size_t count, const char *what, sono_error *err) {
    return sum(data, count, MPI_FLOAT, sizeof(float), what, err);
}

sono_status sono_dist_sum_f64(double *data, size_t count, const char *what, sono_error *err) {
    return sum(data, count, MPI_DOUBLE, sizeof(double), what, err);
}

sono_status sono_dist_broadcast(void *data, size_t bytes, int root, const char *what, sono_error *err) {
    if (dist_size == 1) return SONO_OK;
    begin_wait(what);
    int rc = MPI_SUCCESS;
    for (size_t done = 0; rc == MPI_SUCCESS && done < bytes; done += MPI_PIECE) {
        int n = (int)(bytes - done < MPI_PIECE ? bytes - done : MPI_PIECE);
        rc = MPI_Bcast((char *)data + done, n, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    end_wait();
    return rc == MPI_SUCCESS ? SONO_OK : mpi_failed(rc, "MPI_Bcast", what, err);
}

sono_status sono_dist_gather(const void *data, size_t bytes, int root, void **all, size_t *sizes, const char *what,
                             sono_error *err) {
    *all = NULL;
    if (dist_size == 1) {
        sizes[0] = bytes;
        *all = malloc(bytes ? bytes : 1);
        if (!*all) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        memcpy(*all, data, bytes);
        return SONO_OK;
    }
    if (bytes > MPI_PIECE)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: %zu bytes is more than one gather takes", what, bytes);
    int mine = (int)bytes, *counts = NULL, *offsets = NULL;
    sono_status s = SONO_OK;
    if (dist_rank == root) {
        counts = malloc((size_t)dist_size * sizeof(int));
        offsets = malloc((size_t)dist_size * sizeof(int));
        if (!counts || !offsets) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    begin_wait(what);
    int rc = MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, root, MPI_COMM_WORLD);
    long long total = 0;
    if (rc == MPI_SUCCESS && dist_rank == root && s == SONO_OK) {
        for (int r = 0; r < dist_size; r++) offsets[r] = (int)total, total += counts[r], sizes[r] = (size_t)counts[r];
        if (total > INT_MAX || !(*all = malloc(total ? (size_t)total : 1)))
            s = sono_error_set(err, SONO_ERR_MEMORY, "%s: cannot hold %lld gathered bytes", what, total);
    }
    /* Root must still take part when it failed above, or the others hang. */
    if (rc == MPI_SUCCESS)
        rc = MPI_Gatherv(data, mine, MPI_BYTE, s == SONO_OK ? *all : NULL, counts, offsets, MPI_BYTE, root,
                         MPI_COMM_WORLD);
    end_wait();
    free(counts), free(offsets);
    if (s == SONO_OK && rc != MPI_SUCCESS) s = mpi_failed(rc, "MPI_Gather", what, err);
    if (s != SONO_OK) free(*all), *all = NULL;
    return s;
}

#else /* one process, no MPI */

int sono_dist_compiled(void) { return 0; }
/* Under mpirun without MPI, N copies would each train alone and overwrite
 * each other's files: refused. */
sono_status sono_dist_init(int *argc, char ***argv, sono_error *err) {
    (void)argc, (void)argv;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE") ? getenv("OMPI_COMM_WORLD_SIZE") : getenv("PMI_SIZE");
    if (launched_by_mpi() && (!size || atoi(size) > 1))
        return sono_error_set(err, SONO_ERR_UNSUPPORTED,
                              "started by mpirun, but this sonodream was built without MPI (install libopenmpi-dev "
                              "and rebuild); run it as one process");
    return SONO_OK;
}
void sono_dist_finalize(void) {}
void sono_dist_abort(int code) { (void)code; }
sono_status sono_dist_sum_f32(float *data, size_t count, const char *what, sono_error *err) {
    (void)data, (void)count, (void)what, (void)err;
    return SONO_OK;
}
sono_status sono_dist_sum_f64(double *data, size_t count, const char *what, sono_error *err) {
    (void)data, (void)count, (void)what, (void)err;
    return SONO_OK;
}
sono_status sono_dist_broadcast(void *data, size_t bytes, int root, const char *what, sono_error *err) {
    (void)data, (void)bytes, (void)root, (void)what, (void)err;
    return SONO_OK;
}
sono_status sono_dist_gather(const void *data, size_t bytes, int root, void **all, size_t *sizes, const char *what,
                             sono_error *err) {
    (void)root, (void)what;
    sizes[0] = bytes;
    *all = malloc(bytes ? bytes : 1);
    if (!*all) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    memcpy(*all, data, bytes);
    return SONO_OK;
}
#endif
