/*
 * fake_nvml.c - a stand-in for NVIDIA's libnvidia-ml.so.1 / nvml.dll for tests.
 *
 * It exports a subset of the NVML C API with the real ABI (types, struct layouts,
 * enum values and signatures byte-exact with NVIDIA's nvml.h, which is NOT
 * included: everything is declared below). What the "GPUs" report comes from a
 * scenario file named by the environment variable FAKE_NVML_SCENARIO, read when
 * an nvmlInit* call takes the reference count from 0 to 1.
 *
 * Build (Linux):   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC \
 *                     -o libnvidia-ml.so.1 test/fake-nvml/fake_nvml.c
 * Build (Windows): x86_64-w64-mingw32-gcc -std=c11 -O2 -Wall -Wextra -shared \
 *                     -o nvml.dll test/fake-nvml/fake_nvml.c
 * Add -DFAKE_NVML_OLD_DRIVER for a library shaped like an old driver's: the
 * newer entry points (nvmlInit_v2, *_v2/_v3, NumFans, ...) are then absent.
 * Add -DFAKE_NVML_DRIVER_520 for driver 520 (NVML 11.8): GPM per GPU, but no
 * nvmlGpmMigSampleGet (NVML 12.0, driver 525).
 *
 * Scenario file: UTF-8 text, one "key = value" per line, '#' starts a comment
 * line, blank lines and unknown keys are ignored. Integers are decimal or 0x
 * hex (64-bit). Any value may be "!NAME" (NAME = an nvmlReturn_t name without
 * the NVML_ERROR_ prefix, e.g. !NOT_SUPPORTED): the calls that read that key
 * return that code and write nothing. A key that names a group ("memory",
 * "pci", "fan", "ecc", "processes", "clock", "power", ...) with "!NAME" fails
 * every key below it (ecc = !X fails ecc.current, ecc.corrected.volatile, ...).
 * "reload_on_change = 1": nvmlDeviceGetCount* re-reads the file when it changes.
 * "gpuN.hang_once_ms = N" (and "gpuN.hang_on_read = K", default 1): the K-th temperature
 * read after init blocks N ms, as a hung driver call would.
 * "gpuN.symbol.<function> = !NAME" fails that one entry point only (e.g. a _v2
 * symbol that exists but refuses), while its older sibling still answers.
 * "cuda_driver_version_marker = PATH": every nvmlSystemGetCudaDriverVersion* call
 * appends a line to PATH. The real call loads libcuda.so.1 into the caller (and on
 * driver 580 a thread with it), so tests use this to check who asks.
 * Driver sample buffers (nvmlDeviceGetSamples): "gpuN.samples.gpu_utilization",
 * ".memory_utilization" and ".power" (mW) = a comma list of values, one per sampling
 * period, repeated, the cycle aligned to the Unix epoch: with period_ms = 100,
 * "100,100,100,100,100,0,0,0,0,0" is busy the first half of every second. The
 * point calls (UtilizationRates, PowerUsage) then answer the value of the period in
 * progress. Without such a key the buffer holds the point value. An empty list is an
 * empty buffer (NOT_FOUND). "gpuN.samples.period_ms" (default 100) and
 * "gpuN.samples.length" (default 100: the ring keeps the newest 100) shape the ring.
 * "gpuN.samples = !NOT_SUPPORTED" fails all three (a GPU without support).
 * "gpuN.energy.rate_mw = W": the energy counter grows by W mJ a second from init;
 * "gpuN.energy.reset_after_ms = T": it restarts from 0 at T ms after init (a reload).
 * Events: "gpuN.events.list = xid:79@1500, single_bit_ecc@2000, double_bit_ecc@2500,
 * clock@3000, pstate@..., gpu_unavailable@..." (ms after init), delivered through
 * nvmlEventSetWait* to the sets that registered their type once due; each ECC event
 * also adds one to the volatile ECC count of its kind. "gpuN.events.supported" is the
 * mask nvmlDeviceGetSupportedEventTypes answers (default XID, ECC, pstate, clock).
 * "gpuN.remapped_rows = corrected,uncorrected,pending,failure" (default 0,0,0,0).
 * MIG: "gpuN.mig.mode = 1" (and "gpuN.mig.pending", default the mode) makes GPU N
 * MIG-capable with MIG on; its plain utilization then answers NOT_SUPPORTED. Its MIG
 * devices are "gpuN.migM.*" (M = 0..6, the index nvmlDeviceGetMigDeviceHandleByIndex
 * takes): any key makes slice M exist, "profile" (default 1g.10gb) names it
 * "<GPU name> MIG <profile>", "gi" and "ci" are its GPU and compute instance ids,
 * and uuid, memory.* and processes.* work as on a GPU; everything else on a slice
 * answers NOT_SUPPORTED. Slices are distinct handles (not GPUs of g_gpus).
 * As on real NVML, a GPU in MIG mode lists its slices' running processes after its own.
 * GPM (Hopper and later): "gpuN.gpm.supported = 1"; "gpuN.gpm.<metric>" and, per
 * GPU instance, "gpuN.migM.gpm.<metric>" (graphics_util, sm_util, sm_occupancy,
 * any_tensor_util, dram_bw_util; percent, default 0) are what nvmlGpmMetricsGet
 * answers for a sample pair whose later sample was taken while that value held.
 * Processes: "gpuN.processes.compute" / ".graphics" / ".mps" (MPS clients; no MPS symbols in the
 * old-driver build) = "pid:used[:gi:ci][@FROM-TO]", ...;
 * with "@FROM-TO" (Unix seconds, wall clock; either side may be empty) the process is
 * listed only while FROM <= now < TO, so processes come and go and a pid can be
 * listed again later (reused). "gpuN.processes.utilization = pid:sm:mem:enc:dec, ..."
 * feeds nvmlDeviceGetProcessUtilization: one sample (timestamp now) per listed pid
 * that is running on that GPU now; none -> NOT_FOUND. "gpuN.processes = !NO_PERMISSION"
 * refuses the lists and the utilization (as a container without the capability sees).
 * See the .conf files in test/fake-nvml/scenarios/ and the key list in parse_gpu_key().
 *
 * Per-call cost is kept tiny: the scenario is parsed at init only, everything
 * lives in static arrays, device calls do no allocation, IO or parsing (the
 * floor benchmark in test/bench/nvml_floor.c measures callers against this).
 * Not thread-safe: tests drive it from one thread.
 */

#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c11 */
#endif
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

#if defined(_WIN32)
#define FAKE_API __declspec(dllexport)
#else
#define FAKE_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------- */
/* ABI: declarations copied in shape from nvml.h                              */
/* ------------------------------------------------------------------------- */

typedef enum nvmlReturn_enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_RESET_TYPE_NOT_SUPPORTED = 30, /* newest headers only */
    NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

typedef struct nvmlDevice_st *nvmlDevice_t;

typedef enum nvmlEnableState_enum {
    NVML_FEATURE_DISABLED = 0,
    NVML_FEATURE_ENABLED = 1
} nvmlEnableState_t;

typedef enum nvmlTemperatureSensors_enum {
    NVML_TEMPERATURE_GPU = 0,
    NVML_TEMPERATURE_COUNT
} nvmlTemperatureSensors_t;

typedef enum nvmlClockType_enum {
    NVML_CLOCK_GRAPHICS = 0,
    NVML_CLOCK_SM = 1,
    NVML_CLOCK_MEM = 2,
    NVML_CLOCK_VIDEO = 3,
    NVML_CLOCK_COUNT
} nvmlClockType_t;

typedef enum nvmlPStates_enum {
    NVML_PSTATE_0 = 0,
    NVML_PSTATE_15 = 15,
    NVML_PSTATE_UNKNOWN = 32
} nvmlPstates_t;

typedef enum nvmlMemoryErrorType_enum {
    NVML_MEMORY_ERROR_TYPE_CORRECTED = 0,
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1,
    NVML_MEMORY_ERROR_TYPE_COUNT
} nvmlMemoryErrorType_t;

typedef enum nvmlEccCounterType_enum {
    NVML_VOLATILE_ECC = 0,
    NVML_AGGREGATE_ECC = 1,
    NVML_ECC_COUNTER_TYPE_COUNT
} nvmlEccCounterType_t;

#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFULL
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_DEVICE_PCI_BUS_ID_LEGACY_BUFFER_SIZE 16 /* the API-8 header's busId[16] */

/* nvmlPciInfo_t as filled by nvmlDeviceGetPciInfo_v3 (68 bytes). */
typedef struct nvmlPciInfo_st {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

/* The pre-v3 nvmlPciInfo_t (NVML API 8 and older, 52 bytes), filled by
 * nvmlDeviceGetPciInfo and nvmlDeviceGetPciInfo_v2. */
typedef struct nvmlPciInfoLegacy_st {
    char busId[NVML_DEVICE_PCI_BUS_ID_LEGACY_BUFFER_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    unsigned int reserved0;
    unsigned int reserved1;
    unsigned int reserved2;
    unsigned int reserved3;
} nvmlPciInfoLegacy_t;

typedef struct nvmlUtilization_st {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct nvmlMemory_st {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used; /* v1: reserved + allocated */
} nvmlMemory_t;

typedef struct nvmlMemory_v2_st {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

#define NVML_STRUCT_VERSION(size, ver) ((unsigned int)((size) | ((unsigned int)(ver) << 24U)))
#define nvmlMemory_v2 NVML_STRUCT_VERSION(sizeof(nvmlMemory_v2_t), 2)

typedef struct nvmlProcessInfo_v1_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct nvmlProcessInfo_v2_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_v2_t, nvmlProcessInfo_t;

/* What the _v3 process calls of drivers 535.43-535.86 wrote per entry: the
 * 12.2 GA header briefly had this layout as nvmlProcessInfo_t. */
typedef struct nvmlProcessUtilizationSample_st {
    unsigned int pid;
    unsigned long long timeStamp; /* CPU timestamp, microseconds */
    unsigned int smUtil;
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

typedef struct fakeProcessInfo535_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
    unsigned long long usedGpuCcProtectedMemory;
} fakeProcessInfo535_t;

/* Layout checks for the 64-bit ABIs (LP64 and LLP64) the tests run on. */
#define FAKE_ABI_CHECK(cond, msg) _Static_assert(sizeof(void *) != 8 || (cond), msg)
FAKE_ABI_CHECK(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t is 68 bytes");
FAKE_ABI_CHECK(offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t.busId at 36");
FAKE_ABI_CHECK(sizeof(nvmlPciInfoLegacy_t) == 52, "legacy nvmlPciInfo_t is 52 bytes");
FAKE_ABI_CHECK(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t is 24 bytes");
FAKE_ABI_CHECK(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t is 40 bytes");
FAKE_ABI_CHECK(offsetof(nvmlMemory_v2_t, total) == 8, "nvmlMemory_v2_t.total at 8");
FAKE_ABI_CHECK(nvmlMemory_v2 == 0x02000028u, "nvmlMemory_v2 version word");
FAKE_ABI_CHECK(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t is 16 bytes");
FAKE_ABI_CHECK(sizeof(nvmlProcessInfo_v2_t) == 24, "nvmlProcessInfo_v2_t is 24 bytes");
FAKE_ABI_CHECK(sizeof(fakeProcessInfo535_t) == 32, "535.43 _v3 entry is 32 bytes");
FAKE_ABI_CHECK(sizeof(nvmlProcessUtilizationSample_t) == 32, "nvmlProcessUtilizationSample_t is 32 bytes");
FAKE_ABI_CHECK(offsetof(nvmlProcessUtilizationSample_t, timeStamp) == 8, "process utilization timeStamp at 8");
_Static_assert(sizeof(nvmlReturn_t) == 4 && sizeof(nvmlPstates_t) == 4 && sizeof(nvmlEnableState_t) == 4,
               "NVML enums are int-sized");

/* GPM (nvml.h "NVML GPM"): metric ids the fake answers, and the structs. */
#define NVML_GPM_METRIC_GRAPHICS_UTIL 1
#define NVML_GPM_METRIC_SM_UTIL 2
#define NVML_GPM_METRIC_SM_OCCUPANCY 3
#define NVML_GPM_METRIC_ANY_TENSOR_UTIL 5
#define NVML_GPM_METRIC_DRAM_BW_UTIL 10
#define NVML_GPM_METRIC_MAX 333
#define FAKE_GPM_IDS 11 /* ids 0..10: those above are answered, the rest NOT_SUPPORTED */

typedef struct nvmlGpmSample_st *nvmlGpmSample_t;

typedef struct {
    unsigned int metricId;
    nvmlReturn_t nvmlReturn;
    double value;
    struct {
        char *shortName;
        char *longName;
        char *unit;
    } metricInfo;
} nvmlGpmMetric_t;

typedef struct {
    unsigned int version;
    unsigned int numMetrics;
    nvmlGpmSample_t sample1;
    nvmlGpmSample_t sample2;
    nvmlGpmMetric_t metrics[NVML_GPM_METRIC_MAX];
} nvmlGpmMetricsGet_t;
#define NVML_GPM_METRICS_GET_VERSION 1

typedef struct {
    unsigned int version;
    unsigned int isSupportedDevice;
} nvmlGpmSupport_t;
#define NVML_GPM_SUPPORT_VERSION 1

FAKE_ABI_CHECK(sizeof(nvmlGpmMetric_t) == 40, "nvmlGpmMetric_t is 40 bytes");
FAKE_ABI_CHECK(offsetof(nvmlGpmMetric_t, value) == 8, "nvmlGpmMetric_t.value at 8");
FAKE_ABI_CHECK(offsetof(nvmlGpmMetricsGet_t, metrics) == 24, "nvmlGpmMetricsGet_t.metrics at 24");
FAKE_ABI_CHECK(sizeof(nvmlGpmMetricsGet_t) == 24 + 333 * 40, "nvmlGpmMetricsGet_t is 13344 bytes");

/* ------------------------------------------------------------------------- */
/* State                                                                      */
/* ------------------------------------------------------------------------- */

#define FAKE_MAX_GPUS 32
#define FAKE_MAX_FANS 16
#define FAKE_MAX_PROCS 256   /* per list, including processes added by growth */
#define FAKE_MAX_SYMBOL_FAILS 8
#define FAKE_STR 128         /* >= the largest NVML string buffer (96) */
#define FAKE_GROWTH_PID_BASE 900000u
#define FAKE_GROWTH_USED_BYTES 1048576ull

/* Error slots: one per group of values a call reads. A "!CODE" on a key sets
 * the slot(s) whose keys it names (exactly, or as a dotted prefix). */
enum fake_slot {
    S_HANDLE, S_NAME, S_UUID, S_SERIAL, S_PCI, S_MEMORY, S_UTIL, S_TEMP, S_FAN,
    S_POWER_USAGE, S_POWER_LIMIT, S_POWER_ENFORCED, S_ENERGY,
    S_CLOCK_GRAPHICS, S_CLOCK_SM, S_CLOCK_MEM, S_CLOCK_VIDEO, S_PSTATE, S_EVENT_REASONS,
    S_ECC_MODE, S_ECC_CORR_VOL, S_ECC_UNCORR_VOL, S_ECC_CORR_AGG, S_ECC_UNCORR_AGG,
    S_ENCODER, S_DECODER, S_PCIE_GEN, S_PCIE_WIDTH, S_PCIE_TX, S_PCIE_RX, S_PROC_COMPUTE, S_PROC_GRAPHICS,
    S_SAMPLES_POWER, S_SAMPLES_GPU, S_SAMPLES_MEMORY, S_EVENTS, S_REMAPPED, S_MIG_MODE, S_GPM,
    S_PROC_UTIL, S_PROC_MPS,
    S_COUNT
};

static const char *const k_slot_keys[S_COUNT][5] = {
    [S_HANDLE] = {"handle"},
    [S_NAME] = {"name"},
    [S_UUID] = {"uuid"},
    [S_SERIAL] = {"serial"},
    [S_PCI] = {"pci.domain", "pci.bus", "pci.device", "pci.device_id", "pci.subsystem_id"},
    [S_MEMORY] = {"memory.total", "memory.reserved", "memory.used", "memory.free"},
    [S_UTIL] = {"utilization.gpu", "utilization.memory"},
    [S_TEMP] = {"temperature"},
    [S_FAN] = {"fan.speeds", "fan.count"},
    [S_POWER_USAGE] = {"power.usage"},
    [S_POWER_LIMIT] = {"power.limit"},
    [S_POWER_ENFORCED] = {"power.enforced_limit"},
    [S_ENERGY] = {"energy"},
    [S_CLOCK_GRAPHICS] = {"clock.graphics"},
    [S_CLOCK_SM] = {"clock.sm"},
    [S_CLOCK_MEM] = {"clock.memory"},
    [S_CLOCK_VIDEO] = {"clock.video"},
    [S_PSTATE] = {"pstate"},
    [S_EVENT_REASONS] = {"clock_event_reasons"},
    [S_ECC_MODE] = {"ecc.current", "ecc.pending"},
    [S_ECC_CORR_VOL] = {"ecc.corrected.volatile"},
    [S_ECC_UNCORR_VOL] = {"ecc.uncorrected.volatile"},
    [S_ECC_CORR_AGG] = {"ecc.corrected.aggregate"},
    [S_ECC_UNCORR_AGG] = {"ecc.uncorrected.aggregate"},
    [S_ENCODER] = {"encoder.utilization", "encoder.sampling_us"},
    [S_DECODER] = {"decoder.utilization", "decoder.sampling_us"},
    [S_PCIE_GEN] = {"pcie.gen"},
    [S_PCIE_WIDTH] = {"pcie.width"},
    [S_PCIE_TX] = {"pcie.tx_throughput"},
    [S_PCIE_RX] = {"pcie.rx_throughput"},
    [S_PROC_COMPUTE] = {"processes.compute"},
    [S_PROC_GRAPHICS] = {"processes.graphics"},
    [S_PROC_MPS] = {"processes.mps"},
    /* indexed by nvmlSamplingType_t: S_SAMPLES_POWER + type */
    [S_SAMPLES_POWER] = {"samples.power", "samples.period_ms", "samples.length"},
    [S_SAMPLES_GPU] = {"samples.gpu_utilization", "samples.period_ms", "samples.length"},
    [S_SAMPLES_MEMORY] = {"samples.memory_utilization", "samples.period_ms", "samples.length"},
    [S_EVENTS] = {"events.list", "events.supported"},
    [S_REMAPPED] = {"remapped_rows"},
    [S_MIG_MODE] = {"mig.mode", "mig.pending"},
    [S_GPM] = {"gpm.supported", "gpm.graphics_util", "gpm.sm_util", "gpm.sm_occupancy", "gpm.dram_bw_util"},
    [S_PROC_UTIL] = {"processes.utilization"},
};

#define FAKE_SAMPLE_TYPES 3  /* NVML_TOTAL_POWER_SAMPLES, GPU_UTILIZATION, MEMORY_UTILIZATION */
#define FAKE_MAX_PATTERN 256
#define FAKE_MAX_EVENTS 64

/* nvmlEventType* bits (nvml.h). */
#define FAKE_EVENT_SINGLE_BIT_ECC 0x1ULL
#define FAKE_EVENT_DOUBLE_BIT_ECC 0x2ULL
#define FAKE_EVENT_PSTATE 0x4ULL
#define FAKE_EVENT_XID 0x8ULL
#define FAKE_EVENT_CLOCK 0x10ULL
#define FAKE_EVENT_GPU_UNAVAILABLE 0x4000ULL

struct fake_event {
    unsigned long long type;
    unsigned long long data; /* the XID for XID events, 0 otherwise */
    unsigned long long at_ms; /* after init */
};

struct nvmlDevice_st {
    unsigned int index;
    int lost;
    nvmlReturn_t err[S_COUNT];

    char name[FAKE_STR];
    char uuid[FAKE_STR];
    char serial[FAKE_STR];

    unsigned int pci_domain, pci_bus, pci_device, pci_device_id, pci_subsystem_id;
    char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];          /* "%08X:%02X:%02X.0" */
    char bus_id_legacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE]; /* "%04X:%02X:%02X.0" */

    unsigned long long mem_total, mem_reserved, mem_used, mem_free;
    int mem_free_set;

    unsigned int util_gpu, util_memory;
    unsigned int temperature;

    unsigned int fan_speeds[FAKE_MAX_FANS];
    unsigned int fan_listed; /* entries in fan.speeds */
    unsigned int fan_count;
    int fan_count_set;

    unsigned int power_usage, power_limit, power_enforced;
    int power_enforced_set;
    unsigned long long energy;

    unsigned int clocks[NVML_CLOCK_COUNT];
    unsigned int pstate;
    unsigned long long event_reasons;

    unsigned int ecc_current, ecc_pending;
    unsigned long long ecc_counts[NVML_MEMORY_ERROR_TYPE_COUNT][NVML_ECC_COUNTER_TYPE_COUNT];

    unsigned int encoder_util, encoder_period_us, decoder_util, decoder_period_us;
    unsigned int pcie_gen, pcie_width;
    unsigned int pcie_tx_kbps, pcie_rx_kbps; /* KB/s over NVML's 20 ms window */

    nvmlProcessInfo_v2_t compute[FAKE_MAX_PROCS];
    unsigned int compute_listed;   /* from processes.compute */
    unsigned int compute_capacity; /* listed + growth entries prepared at init */
    nvmlProcessInfo_v2_t graphics[FAKE_MAX_PROCS];
    unsigned int graphics_listed;
    /* When each listed process runs (Unix seconds, [from, to)); 0..ULLONG_MAX when always. */
    unsigned long long compute_from[FAKE_MAX_PROCS], compute_to[FAKE_MAX_PROCS];
    unsigned long long graphics_from[FAKE_MAX_PROCS], graphics_to[FAKE_MAX_PROCS];
    /* processes.mps: clients of an MPS server (nvmlDeviceGetMPSComputeRunningProcesses). */
    nvmlProcessInfo_v2_t mps[FAKE_MAX_PROCS];
    unsigned int mps_listed;
    unsigned long long mps_from[FAKE_MAX_PROCS], mps_to[FAKE_MAX_PROCS];
    /* processes.utilization: pid, sm, mem, enc, dec per entry. */
    unsigned int proc_util[FAKE_MAX_PROCS][5];
    unsigned int proc_util_listed;
    unsigned int grow_by, grow_times;
    unsigned int v3_entry_size; /* 24, or 32 for the 535.43-535.86 bug */
    unsigned int compute_calls; /* compute-process calls since init */
    unsigned int hang_once_ms;  /* one temperature read after init blocks this long (a hung driver call) */
    unsigned int hang_on_read;  /* ...the n-th (default the first) */
    unsigned int temperature_reads;

    /* "symbol.<nvml function> = !CODE": that one entry point fails, its siblings
     * (the older or newer symbol for the same data) still answer. */
    char symbol_fail_name[FAKE_MAX_SYMBOL_FAILS][64];
    nvmlReturn_t symbol_fail_code[FAKE_MAX_SYMBOL_FAILS];
    unsigned int symbol_fail_count;

    /* Driver sample buffers, by nvmlSamplingType_t (power, GPU, memory utilization). */
    unsigned int pattern[FAKE_SAMPLE_TYPES][FAKE_MAX_PATTERN];
    unsigned int pattern_len[FAKE_SAMPLE_TYPES];
    int pattern_set[FAKE_SAMPLE_TYPES];
    unsigned int sample_period_ms, sample_length;

    unsigned int energy_rate_mw;
    unsigned long long energy_reset_after_ms;
    int energy_reset_set;

    struct fake_event events[FAKE_MAX_EVENTS]; /* in time order */
    unsigned int event_count;
    unsigned long long events_supported;

    unsigned int remapped[4]; /* corrected, uncorrected, pending, failure */
    int name_set;

    /* MIG: on a GPU, its mode; on a slice (is_mig), who it is. */
    int mig_capable;
    unsigned int mig_current, mig_pending;
    int mig_pending_set;
    int is_mig, present;
    unsigned int parent, gi_id, ci_id;
    char profile[32];

    /* GPM: whether the GPU has it, and what a sample taken now holds (by metric id). */
    int gpm_supported;
    double gpm[FAKE_GPM_IDS];
};

#define FAKE_MAX_MIG 7 /* MIG devices per GPU, as on an A100 or H100 */

static struct nvmlDevice_st g_gpus[FAKE_MAX_GPUS];
/* Slices, apart from the GPUs so that their handles are distinct; only the first
 * g_mig_slots[N] of GPU N were initialised (keeps the untouched rest out of memory). */
static struct nvmlDevice_st g_migs[FAKE_MAX_GPUS][FAKE_MAX_MIG];
static unsigned int g_mig_slots[FAKE_MAX_GPUS];
static unsigned int g_refcount;
static unsigned int g_handle_count;  /* indexes HandleByIndex accepts */
static unsigned int g_device_count;  /* what GetCount reports */
static nvmlReturn_t g_count_err;
static nvmlReturn_t g_init_err;
static char g_driver_version[FAKE_STR];
static nvmlReturn_t g_driver_version_err;
static char g_nvml_version[FAKE_STR];
static nvmlReturn_t g_nvml_version_err;
static int g_cuda_version;
static nvmlReturn_t g_cuda_version_err;
static char g_cuda_version_marker[FAKE_STR]; /* a path, "" = none */

/* ------------------------------------------------------------------------- */
/* Return codes                                                               */
/* ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    nvmlReturn_t code;
    const char *text;
} k_codes[] = {
    {"SUCCESS", NVML_SUCCESS, "Success"},
    {"UNINITIALIZED", NVML_ERROR_UNINITIALIZED, "Uninitialized"},
    {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT, "Invalid Argument"},
    {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED, "Not Supported"},
    {"NO_PERMISSION", NVML_ERROR_NO_PERMISSION, "Insufficient Permissions"},
    {"ALREADY_INITIALIZED", NVML_ERROR_ALREADY_INITIALIZED, "Already Initialized"},
    {"NOT_FOUND", NVML_ERROR_NOT_FOUND, "Not Found"},
    {"INSUFFICIENT_SIZE", NVML_ERROR_INSUFFICIENT_SIZE, "Insufficient Size"},
    {"INSUFFICIENT_POWER", NVML_ERROR_INSUFFICIENT_POWER, "Insufficient External Power"},
    {"DRIVER_NOT_LOADED", NVML_ERROR_DRIVER_NOT_LOADED, "Driver Not Loaded"},
    {"TIMEOUT", NVML_ERROR_TIMEOUT, "Timeout"},
    {"IRQ_ISSUE", NVML_ERROR_IRQ_ISSUE, "Interrupt Request Issue"},
    {"LIBRARY_NOT_FOUND", NVML_ERROR_LIBRARY_NOT_FOUND, "NVML Shared Library Not Found"},
    {"FUNCTION_NOT_FOUND", NVML_ERROR_FUNCTION_NOT_FOUND, "Function Not Found"},
    {"CORRUPTED_INFOROM", NVML_ERROR_CORRUPTED_INFOROM, "Corrupted infoROM"},
    {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST, "GPU is lost"},
    {"RESET_REQUIRED", NVML_ERROR_RESET_REQUIRED, "GPU requires restart"},
    {"OPERATING_SYSTEM", NVML_ERROR_OPERATING_SYSTEM, "The operating system has blocked the request."},
    {"LIB_RM_VERSION_MISMATCH", NVML_ERROR_LIB_RM_VERSION_MISMATCH, "RM has detected an NVML/RM version mismatch."},
    {"IN_USE", NVML_ERROR_IN_USE, "In use by another client"},
    {"MEMORY", NVML_ERROR_MEMORY, "Insufficient Memory"},
    {"NO_DATA", NVML_ERROR_NO_DATA, "No data"},
    {"VGPU_ECC_NOT_SUPPORTED", NVML_ERROR_VGPU_ECC_NOT_SUPPORTED,
     "The requested vgpu operation is not available on target device, because ECC is enabled"},
    {"INSUFFICIENT_RESOURCES", NVML_ERROR_INSUFFICIENT_RESOURCES, "Ran out of critical resources, other than memory"},
    {"FREQ_NOT_SUPPORTED", NVML_ERROR_FREQ_NOT_SUPPORTED, "Frequency not supported"},
    {"ARGUMENT_VERSION_MISMATCH", NVML_ERROR_ARGUMENT_VERSION_MISMATCH, "Argument version mismatch"},
    {"DEPRECATED", NVML_ERROR_DEPRECATED, "Deprecated"},
    {"NOT_READY", NVML_ERROR_NOT_READY, "The system is not ready for the request"},
    {"GPU_NOT_FOUND", NVML_ERROR_GPU_NOT_FOUND, "No GPUs were found"},
    {"INVALID_STATE", NVML_ERROR_INVALID_STATE, "Resource not in correct state to perform requested operation"},
    {"RESET_TYPE_NOT_SUPPORTED", NVML_ERROR_RESET_TYPE_NOT_SUPPORTED, "Reset not supported for given device/parameters"},
    {"UNKNOWN", NVML_ERROR_UNKNOWN, "Unknown Error"},
};

/* ------------------------------------------------------------------------- */
/* Scenario parsing (init only)                                               */
/* ------------------------------------------------------------------------- */

static const char *g_scenario_path;
static int g_line_no;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void warn(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fake_nvml: %s:%d: ", g_scenario_path ? g_scenario_path : "?", g_line_no);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int parse_code(const char *value, nvmlReturn_t *out) {
    const char *name = value + 1; /* skip '!' */
    size_t i;
    if (strncmp(name, "NVML_ERROR_", 11) == 0) name += 11;
    for (i = 0; i < sizeof k_codes / sizeof k_codes[0]; i++) {
        if (strcmp(name, k_codes[i].name) == 0) {
            *out = k_codes[i].code;
            return 1;
        }
    }
    return 0;
}

/* Decimal or 0x hex, the whole string, 64-bit. */
static int parse_u64(const char *s, unsigned long long *out) {
    char *end;
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        digits = s + 2;
    }
    if (*digits == '\0' || *digits == '-' || *digits == '+' || *digits == ' ') return 0;
    *out = strtoull(digits, &end, base);
    return *end == '\0';
}

static int parse_u32(const char *s, unsigned int *out) {
    unsigned long long v;
    if (!parse_u64(s, &v) || v > UINT_MAX) return 0;
    *out = (unsigned int)v;
    return 1;
}

static char *trim(char *s) {
    char *end;
    while (*s == ' ' || *s == '\t') s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) end--;
    *end = '\0';
    return s;
}

static int set_string(char *dst, const char *value, const char *key) {
    size_t n = strlen(value);
    if (n >= FAKE_STR) {
        warn("value of %s is longer than %d bytes; ignored", key, FAKE_STR - 1);
        return 0;
    }
    memcpy(dst, value, n + 1);
    return 1;
}

/* "a,b,c" into up to max unsigned ints. */
static int parse_u32_list(char *value, unsigned int *out, unsigned int max, unsigned int *count) {
    unsigned int n = 0;
    char *item = value;
    if (*trim(value) == '\0') {
        *count = 0;
        return 1;
    }
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma) *comma = '\0';
        if (n >= max || !parse_u32(trim(item), &out[n])) return 0;
        n++;
        if (!comma) break;
        item = comma + 1;
    }
    *count = n;
    return 1;
}

static unsigned long long g_scratch_from[FAKE_MAX_PROCS], g_scratch_to[FAKE_MAX_PROCS];

/* "FROM-TO" in Unix seconds, either side may be empty. */
static int parse_time_range(char *text, unsigned long long *from, unsigned long long *to) {
    char *dash = strchr(text, '-');
    if (!dash) return 0;
    *dash = '\0';
    *from = 0;
    *to = ULLONG_MAX;
    if (*trim(text) != '\0' && !parse_u64(trim(text), from)) return 0;
    if (*trim(dash + 1) != '\0' && !parse_u64(trim(dash + 1), to)) return 0;
    return 1;
}

/* "pid:used[:gi:ci][@FROM-TO],..." where used may be NA; the times go to g_scratch_from/to. */
static int parse_process_list(char *value, nvmlProcessInfo_v2_t *out, unsigned int *count) {
    unsigned int n = 0;
    char *item = value;
    if (*trim(value) == '\0') {
        *count = 0;
        return 1;
    }
    for (;;) {
        char *comma = strchr(item, ',');
        char *fields[5];
        unsigned int nf = 0;
        char *f = item;
        unsigned long long used;
        char *at;
        if (comma) *comma = '\0';
        at = strchr(item, '@');
        g_scratch_from[n < FAKE_MAX_PROCS ? n : 0] = 0;
        g_scratch_to[n < FAKE_MAX_PROCS ? n : 0] = ULLONG_MAX;
        if (at) {
            *at = '\0';
            if (n >= FAKE_MAX_PROCS || !parse_time_range(at + 1, &g_scratch_from[n], &g_scratch_to[n])) return 0;
        }
        for (;;) {
            char *colon = strchr(f, ':');
            if (colon) *colon = '\0';
            if (nf >= 5) return 0;
            fields[nf++] = trim(f);
            if (!colon) break;
            f = colon + 1;
        }
        if (n >= FAKE_MAX_PROCS || (nf != 2 && nf != 4)) return 0;
        if (!parse_u32(fields[0], &out[n].pid)) return 0;
        if (strcmp(fields[1], "NA") == 0)
            used = NVML_VALUE_NOT_AVAILABLE_ULL;
        else if (!parse_u64(fields[1], &used))
            return 0;
        out[n].usedGpuMemory = used;
        out[n].gpuInstanceId = 0xFFFFFFFFu;
        out[n].computeInstanceId = 0xFFFFFFFFu;
        if (nf == 4 && (!parse_u32(fields[2], &out[n].gpuInstanceId) ||
                        !parse_u32(fields[3], &out[n].computeInstanceId)))
            return 0;
        n++;
        if (!comma) break;
        item = comma + 1;
    }
    *count = n;
    return 1;
}

/* "pid:sm:mem:enc:dec,..." into rows of five. */
static int parse_process_utilization(char *value, unsigned int (*out)[5], unsigned int *count) {
    unsigned int n = 0;
    char *item = value;
    if (*trim(value) == '\0') {
        *count = 0;
        return 1;
    }
    for (;;) {
        char *comma = strchr(item, ',');
        char *f = item;
        unsigned int k;
        if (comma) *comma = '\0';
        if (n >= FAKE_MAX_PROCS) return 0;
        for (k = 0; k < 5; k++) {
            char *colon = strchr(f, ':');
            if ((k < 4) != (colon != NULL)) return 0;
            if (colon) *colon = '\0';
            if (!parse_u32(trim(f), &out[n][k])) return 0;
            if (colon) f = colon + 1;
        }
        n++;
        if (!comma) break;
        item = comma + 1;
    }
    *count = n;
    return 1;
}

/* Does "key" name slot key "slot_key" exactly or as a dotted prefix? */
static int key_covers(const char *key, const char *slot_key) {
    size_t n = strlen(key);
    return strncmp(key, slot_key, n) == 0 && (slot_key[n] == '\0' || slot_key[n] == '.');
}

static int set_gpu_error(struct nvmlDevice_st *g, const char *key, nvmlReturn_t code) {
    int hit = 0;
    unsigned int s, k;
    if (strcmp(key, "lost") == 0) return 0;
    for (s = 0; s < S_COUNT; s++) {
        for (k = 0; k < 5 && k_slot_keys[s][k]; k++) {
            if (key_covers(key, k_slot_keys[s][k])) {
                g->err[s] = code;
                hit = 1;
                break;
            }
        }
    }
    /* Growth/entry-size knobs read the compute list. */
    if (!hit && (strcmp(key, "processes.grow_by") == 0 || strcmp(key, "processes.grow_times") == 0 ||
                 strcmp(key, "processes.entry_size") == 0)) {
        g->err[S_PROC_COMPUTE] = code;
        hit = 1;
    }
    return hit;
}

#define BAD_VALUE() (warn("bad value for %s: '%s'; ignored", key, value), 0)

#define FAKE_LINE 8192

/* Lists are parsed in place, so from a copy: a bad value leaves the GPU as it was. */
static nvmlProcessInfo_v2_t g_scratch_procs[FAKE_MAX_PROCS];

static int copy_value(char *dst, const char *value) {
    size_t n = strlen(value);
    if (n >= FAKE_LINE) return 0;
    memcpy(dst, value, n + 1);
    return 1;
}

/* processes.compute/graphics/mps: one list and its run times, set only when the whole value parses. */
static int set_process_list(const char *value, nvmlProcessInfo_v2_t *procs, unsigned long long *from,
                            unsigned long long *to, unsigned int *listed) {
    static char scratch[FAKE_LINE];
    unsigned int n;
    if (!copy_value(scratch, value) || !parse_process_list(scratch, g_scratch_procs, &n)) return 0;
    memcpy(procs, g_scratch_procs, n * sizeof g_scratch_procs[0]);
    memcpy(from, g_scratch_from, n * sizeof g_scratch_from[0]);
    memcpy(to, g_scratch_to, n * sizeof g_scratch_to[0]);
    *listed = n;
    return 1;
}

/* "gpu_utilization" -> NVML_GPU_UTILIZATION_SAMPLES, ...; -1 for anything else. */
static int sample_type_of(const char *name) {
    if (strcmp(name, "power") == 0) return 0;
    if (strcmp(name, "gpu_utilization") == 0) return 1;
    if (strcmp(name, "memory_utilization") == 0) return 2;
    return -1;
}

/* "xid:79@1500, single_bit_ecc@2000, ..." into g->events, sorted by time. */
static int parse_event_list(char *value, struct nvmlDevice_st *g) {
    static const struct { const char *name; unsigned long long type; } k_types[] = {
        {"xid", FAKE_EVENT_XID}, {"single_bit_ecc", FAKE_EVENT_SINGLE_BIT_ECC},
        {"double_bit_ecc", FAKE_EVENT_DOUBLE_BIT_ECC}, {"pstate", FAKE_EVENT_PSTATE},
        {"clock", FAKE_EVENT_CLOCK}, {"gpu_unavailable", FAKE_EVENT_GPU_UNAVAILABLE}};
    struct fake_event parsed[FAKE_MAX_EVENTS];
    unsigned int n = 0, i, j;
    char *item = value;
    if (*trim(value) == '\0') {
        g->event_count = 0;
        return 1;
    }
    for (;;) {
        char *comma = strchr(item, ',');
        char *at, *colon, *name;
        int found = 0;
        if (comma) *comma = '\0';
        name = trim(item);
        at = strchr(name, '@');
        if (!at || n >= FAKE_MAX_EVENTS) return 0;
        *at = '\0';
        if (!parse_u64(trim(at + 1), &parsed[n].at_ms)) return 0;
        colon = strchr(name, ':');
        parsed[n].data = 0;
        if (colon) {
            *colon = '\0';
            if (!parse_u64(trim(colon + 1), &parsed[n].data)) return 0;
        }
        for (i = 0; i < sizeof k_types / sizeof k_types[0]; i++) {
            if (strcmp(trim(name), k_types[i].name) == 0) {
                parsed[n].type = k_types[i].type;
                found = 1;
            }
        }
        if (!found || (colon && parsed[n].type != FAKE_EVENT_XID)) return 0;
        n++;
        if (!comma) break;
        item = comma + 1;
    }
    for (i = 1; i < n; i++) /* insertion sort by time, stable */
        for (j = i; j > 0 && parsed[j - 1].at_ms > parsed[j].at_ms; j--) {
            struct fake_event t = parsed[j];
            parsed[j] = parsed[j - 1];
            parsed[j - 1] = t;
        }
    memcpy(g->events, parsed, n * sizeof parsed[0]);
    g->event_count = n;
    return 1;
}

static struct nvmlDevice_st *mig_slot(unsigned int gpu, unsigned int m);

/* "graphics_util" -> NVML_GPM_METRIC_GRAPHICS_UTIL, ...; -1 for anything else. */
static int gpm_metric_of(const char *name) {
    if (strcmp(name, "graphics_util") == 0) return NVML_GPM_METRIC_GRAPHICS_UTIL;
    if (strcmp(name, "sm_util") == 0) return NVML_GPM_METRIC_SM_UTIL;
    if (strcmp(name, "sm_occupancy") == 0) return NVML_GPM_METRIC_SM_OCCUPANCY;
    if (strcmp(name, "any_tensor_util") == 0) return NVML_GPM_METRIC_ANY_TENSOR_UTIL;
    if (strcmp(name, "dram_bw_util") == 0) return NVML_GPM_METRIC_DRAM_BW_UTIL;
    return -1;
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v;
    if (!*s) return 0;
    v = strtod(s, &end);
    if (*end != '\0') return 0;
    *out = v;
    return 1;
}

static int parse_gpu_key(struct nvmlDevice_st *g, const char *key, char *value) {
    static char scratch[FAKE_LINE];
    unsigned int u32;

    /* "migM.<key>": the key of the GPU's slice M. */
    if (!g->is_mig && strncmp(key, "mig", 3) == 0 && key[3] >= '0' && key[3] <= '9') {
        char *dot;
        unsigned long m = strtoul(key + 3, &dot, 10);
        if (*dot != '.' || dot[1] == '\0' || m >= FAKE_MAX_MIG) return BAD_VALUE();
        return parse_gpu_key(mig_slot(g->index, (unsigned int)m), dot + 1, value);
    }

    if (value[0] == '!') {
        nvmlReturn_t code;
        if (!parse_code(value, &code)) return BAD_VALUE();
        if (strncmp(key, "symbol.", 7) == 0) {
            if (g->symbol_fail_count >= FAKE_MAX_SYMBOL_FAILS || strlen(key + 7) >= 64) return BAD_VALUE();
            strcpy(g->symbol_fail_name[g->symbol_fail_count], key + 7);
            g->symbol_fail_code[g->symbol_fail_count++] = code;
            return 1;
        }
        if (!set_gpu_error(g, key, code)) warn("unknown key %s (error code ignored)", key);
        return 1;
    }

    if (strcmp(key, "lost") == 0) {
        if (!parse_u32(value, &u32)) return BAD_VALUE();
        g->lost = u32 != 0;
    } else if (strcmp(key, "handle") == 0) {
        /* only "!CODE" means anything here */
    } else if (strcmp(key, "name") == 0) {
        set_string(g->name, value, key);
        g->name_set = 1;
    } else if (strcmp(key, "uuid") == 0) {
        set_string(g->uuid, value, key);
    } else if (strcmp(key, "serial") == 0) {
        set_string(g->serial, value, key);
    } else if (strcmp(key, "pci.domain") == 0) {
        if (!parse_u32(value, &g->pci_domain)) return BAD_VALUE();
    } else if (strcmp(key, "pci.bus") == 0) {
        if (!parse_u32(value, &g->pci_bus)) return BAD_VALUE();
    } else if (strcmp(key, "pci.device") == 0) {
        if (!parse_u32(value, &g->pci_device)) return BAD_VALUE();
    } else if (strcmp(key, "pci.device_id") == 0) {
        if (!parse_u32(value, &g->pci_device_id)) return BAD_VALUE();
    } else if (strcmp(key, "pci.subsystem_id") == 0) {
        if (!parse_u32(value, &g->pci_subsystem_id)) return BAD_VALUE();
    } else if (strcmp(key, "memory.total") == 0) {
        if (!parse_u64(value, &g->mem_total)) return BAD_VALUE();
    } else if (strcmp(key, "memory.reserved") == 0) {
        if (!parse_u64(value, &g->mem_reserved)) return BAD_VALUE();
    } else if (strcmp(key, "memory.used") == 0) {
        if (!parse_u64(value, &g->mem_used)) return BAD_VALUE();
    } else if (strcmp(key, "memory.free") == 0) {
        if (!parse_u64(value, &g->mem_free)) return BAD_VALUE();
        g->mem_free_set = 1;
    } else if (strcmp(key, "utilization.gpu") == 0) {
        if (!parse_u32(value, &g->util_gpu)) return BAD_VALUE();
    } else if (strcmp(key, "utilization.memory") == 0) {
        if (!parse_u32(value, &g->util_memory)) return BAD_VALUE();
    } else if (strcmp(key, "hang_once_ms") == 0) {
        if (!parse_u32(value, &g->hang_once_ms)) return BAD_VALUE();
    } else if (strcmp(key, "hang_on_read") == 0) {
        if (!parse_u32(value, &g->hang_on_read)) return BAD_VALUE();
    } else if (strcmp(key, "temperature") == 0) {
        if (!parse_u32(value, &g->temperature)) return BAD_VALUE();
    } else if (strcmp(key, "fan.speeds") == 0) {
        unsigned int speeds[FAKE_MAX_FANS], n;
        if (!copy_value(scratch, value) || !parse_u32_list(scratch, speeds, FAKE_MAX_FANS, &n)) return BAD_VALUE();
        memcpy(g->fan_speeds, speeds, n * sizeof speeds[0]);
        g->fan_listed = n;
    } else if (strcmp(key, "fan.count") == 0) {
        if (!parse_u32(value, &u32) || u32 > FAKE_MAX_FANS) return BAD_VALUE();
        g->fan_count = u32;
        g->fan_count_set = 1;
    } else if (strcmp(key, "power.usage") == 0) {
        if (!parse_u32(value, &g->power_usage)) return BAD_VALUE();
    } else if (strcmp(key, "power.limit") == 0) {
        if (!parse_u32(value, &g->power_limit)) return BAD_VALUE();
    } else if (strcmp(key, "power.enforced_limit") == 0) {
        if (!parse_u32(value, &g->power_enforced)) return BAD_VALUE();
        g->power_enforced_set = 1;
    } else if (strcmp(key, "energy") == 0) {
        if (!parse_u64(value, &g->energy)) return BAD_VALUE();
    } else if (strcmp(key, "clock.graphics") == 0) {
        if (!parse_u32(value, &g->clocks[NVML_CLOCK_GRAPHICS])) return BAD_VALUE();
    } else if (strcmp(key, "clock.sm") == 0) {
        if (!parse_u32(value, &g->clocks[NVML_CLOCK_SM])) return BAD_VALUE();
    } else if (strcmp(key, "clock.memory") == 0) {
        if (!parse_u32(value, &g->clocks[NVML_CLOCK_MEM])) return BAD_VALUE();
    } else if (strcmp(key, "clock.video") == 0) {
        if (!parse_u32(value, &g->clocks[NVML_CLOCK_VIDEO])) return BAD_VALUE();
    } else if (strcmp(key, "pstate") == 0) {
        if (!parse_u32(value, &g->pstate)) return BAD_VALUE();
    } else if (strcmp(key, "clock_event_reasons") == 0) {
        if (!parse_u64(value, &g->event_reasons)) return BAD_VALUE();
    } else if (strcmp(key, "ecc.current") == 0) {
        if (!parse_u32(value, &u32) || u32 > 1) return BAD_VALUE();
        g->ecc_current = u32;
    } else if (strcmp(key, "ecc.pending") == 0) {
        if (!parse_u32(value, &u32) || u32 > 1) return BAD_VALUE();
        g->ecc_pending = u32;
    } else if (strcmp(key, "ecc.corrected.volatile") == 0) {
        if (!parse_u64(value, &g->ecc_counts[NVML_MEMORY_ERROR_TYPE_CORRECTED][NVML_VOLATILE_ECC])) return BAD_VALUE();
    } else if (strcmp(key, "ecc.uncorrected.volatile") == 0) {
        if (!parse_u64(value, &g->ecc_counts[NVML_MEMORY_ERROR_TYPE_UNCORRECTED][NVML_VOLATILE_ECC])) return BAD_VALUE();
    } else if (strcmp(key, "ecc.corrected.aggregate") == 0) {
        if (!parse_u64(value, &g->ecc_counts[NVML_MEMORY_ERROR_TYPE_CORRECTED][NVML_AGGREGATE_ECC])) return BAD_VALUE();
    } else if (strcmp(key, "ecc.uncorrected.aggregate") == 0) {
        if (!parse_u64(value, &g->ecc_counts[NVML_MEMORY_ERROR_TYPE_UNCORRECTED][NVML_AGGREGATE_ECC])) return BAD_VALUE();
    } else if (strcmp(key, "encoder.utilization") == 0) {
        if (!parse_u32(value, &g->encoder_util)) return BAD_VALUE();
    } else if (strcmp(key, "encoder.sampling_us") == 0) {
        if (!parse_u32(value, &g->encoder_period_us)) return BAD_VALUE();
    } else if (strcmp(key, "decoder.utilization") == 0) {
        if (!parse_u32(value, &g->decoder_util)) return BAD_VALUE();
    } else if (strcmp(key, "decoder.sampling_us") == 0) {
        if (!parse_u32(value, &g->decoder_period_us)) return BAD_VALUE();
    } else if (strcmp(key, "pcie.gen") == 0) {
        if (!parse_u32(value, &g->pcie_gen)) return BAD_VALUE();
    } else if (strcmp(key, "pcie.width") == 0) {
        if (!parse_u32(value, &g->pcie_width)) return BAD_VALUE();
    } else if (strcmp(key, "pcie.tx_throughput") == 0) {
        if (!parse_u32(value, &g->pcie_tx_kbps)) return BAD_VALUE();
    } else if (strcmp(key, "pcie.rx_throughput") == 0) {
        if (!parse_u32(value, &g->pcie_rx_kbps)) return BAD_VALUE();
    } else if (strcmp(key, "processes.compute") == 0) {
        if (!set_process_list(value, g->compute, g->compute_from, g->compute_to, &g->compute_listed)) return BAD_VALUE();
    } else if (strcmp(key, "processes.graphics") == 0) {
        if (!set_process_list(value, g->graphics, g->graphics_from, g->graphics_to, &g->graphics_listed)) return BAD_VALUE();
    } else if (strcmp(key, "processes.mps") == 0) {
        if (!set_process_list(value, g->mps, g->mps_from, g->mps_to, &g->mps_listed)) return BAD_VALUE();
    } else if (strcmp(key, "processes.utilization") == 0) {
        unsigned int n;
        if (!copy_value(scratch, value) || !parse_process_utilization(scratch, g->proc_util, &n)) return BAD_VALUE();
        g->proc_util_listed = n;
    } else if (strcmp(key, "processes.grow_by") == 0) {
        if (!parse_u32(value, &g->grow_by) || g->grow_by > FAKE_MAX_PROCS) return BAD_VALUE();
    } else if (strcmp(key, "processes.grow_times") == 0) {
        if (!parse_u32(value, &g->grow_times) || g->grow_times > FAKE_MAX_PROCS) return BAD_VALUE();
    } else if (strcmp(key, "processes.entry_size") == 0) {
        if (!parse_u32(value, &u32) || (u32 != 24 && u32 != 32)) return BAD_VALUE();
        g->v3_entry_size = u32;
    } else if (strncmp(key, "samples.", 8) == 0 && sample_type_of(key + 8) >= 0) {
        int type = sample_type_of(key + 8);
        unsigned int n;
        if (!copy_value(scratch, value) || !parse_u32_list(scratch, g->pattern[type], FAKE_MAX_PATTERN, &n)) return BAD_VALUE();
        g->pattern_len[type] = n;
        g->pattern_set[type] = 1;
    } else if (strcmp(key, "samples.period_ms") == 0) {
        if (!parse_u32(value, &u32) || u32 == 0) return BAD_VALUE();
        g->sample_period_ms = u32;
    } else if (strcmp(key, "samples.length") == 0) {
        if (!parse_u32(value, &u32) || u32 == 0) return BAD_VALUE();
        g->sample_length = u32;
    } else if (strcmp(key, "energy.rate_mw") == 0) {
        if (!parse_u32(value, &g->energy_rate_mw)) return BAD_VALUE();
    } else if (strcmp(key, "energy.reset_after_ms") == 0) {
        if (!parse_u64(value, &g->energy_reset_after_ms)) return BAD_VALUE();
        g->energy_reset_set = 1;
    } else if (strcmp(key, "events.list") == 0) {
        if (!copy_value(scratch, value) || !parse_event_list(scratch, g)) return BAD_VALUE();
    } else if (strcmp(key, "events.supported") == 0) {
        if (!parse_u64(value, &g->events_supported)) return BAD_VALUE();
    } else if (strcmp(key, "remapped_rows") == 0) {
        unsigned int rows[4], n;
        if (!copy_value(scratch, value) || !parse_u32_list(scratch, rows, 4, &n) || n != 4) return BAD_VALUE();
        memcpy(g->remapped, rows, sizeof rows);
    } else if (strcmp(key, "mig.mode") == 0) {
        if (g->is_mig || !parse_u32(value, &u32) || u32 > 1) return BAD_VALUE();
        g->mig_capable = 1;
        g->mig_current = u32;
    } else if (strcmp(key, "mig.pending") == 0) {
        if (g->is_mig || !parse_u32(value, &u32) || u32 > 1) return BAD_VALUE();
        g->mig_pending = u32;
        g->mig_pending_set = 1;
    } else if (strcmp(key, "profile") == 0) {
        if (!g->is_mig) return BAD_VALUE();
        set_string(g->profile, value, key);
    } else if (strcmp(key, "gi") == 0) {
        if (!g->is_mig || !parse_u32(value, &g->gi_id)) return BAD_VALUE();
    } else if (strcmp(key, "ci") == 0) {
        if (!g->is_mig || !parse_u32(value, &g->ci_id)) return BAD_VALUE();
    } else if (strcmp(key, "gpm.supported") == 0) {
        if (!parse_u32(value, &u32)) return BAD_VALUE();
        g->gpm_supported = u32 != 0;
    } else if (strncmp(key, "gpm.", 4) == 0 && gpm_metric_of(key + 4) >= 0) {
        double v;
        if (!parse_double(value, &v)) return BAD_VALUE();
        g->gpm[gpm_metric_of(key + 4)] = v;
    }
    /* unknown keys are ignored */
    return 1;
}

static void gpu_defaults(struct nvmlDevice_st *g, unsigned int i) {
    memset(g, 0, sizeof *g);
    g->index = i;
    snprintf(g->name, sizeof g->name, "%s", "NVIDIA Fake GPU");
    snprintf(g->uuid, sizeof g->uuid, "GPU-00000000-0000-0000-0000-%012x", i);
    snprintf(g->serial, sizeof g->serial, "FAKE%04u", i);
    g->pci_domain = 0;
    g->pci_bus = 0x10 + i;
    g->pci_device = 0;
    g->pci_device_id = 0x233010DEu;
    g->pci_subsystem_id = 0x16C110DEu;
    g->mem_total = 80ull << 30;
    g->mem_reserved = 512ull << 20;
    g->mem_used = 1ull << 30;
    g->temperature = 30;
    g->fan_speeds[0] = 30;
    g->fan_listed = 1;
    g->power_usage = 50000;
    g->power_limit = 300000;
    g->energy = 123456789ull;
    g->clocks[NVML_CLOCK_GRAPHICS] = 1410;
    g->clocks[NVML_CLOCK_SM] = 1410;
    g->clocks[NVML_CLOCK_MEM] = 1593;
    g->clocks[NVML_CLOCK_VIDEO] = 1275;
    g->pstate = 0;
    g->event_reasons = 0x1;
    g->ecc_current = 1;
    g->ecc_pending = 1;
    g->encoder_period_us = 167000;
    g->decoder_period_us = 167000;
    g->pcie_gen = 4;
    g->pcie_width = 16;
    g->pcie_tx_kbps = 1200;
    g->pcie_rx_kbps = 3400;
    g->sample_period_ms = 100;
    g->sample_length = 100;
    g->events_supported = FAKE_EVENT_SINGLE_BIT_ECC | FAKE_EVENT_DOUBLE_BIT_ECC | FAKE_EVENT_PSTATE | FAKE_EVENT_XID | FAKE_EVENT_CLOCK;
    g->grow_times = 1;
    g->v3_entry_size = 24;
}

/* A slice as the driver shows one: only identity, memory and processes answer. */
static void mig_defaults(struct nvmlDevice_st *s, unsigned int gpu, unsigned int m) {
    unsigned int slot;
    gpu_defaults(s, gpu);
    s->is_mig = 1;
    s->parent = gpu;
    s->gi_id = m + 1;
    s->ci_id = 0;
    snprintf(s->profile, sizeof s->profile, "%s", "1g.10gb");
    snprintf(s->uuid, sizeof s->uuid, "MIG-%08x-0000-4000-8000-%012x", gpu, m);
    s->mem_total = 10ull << 30;
    s->mem_reserved = 0;
    s->mem_used = 0;
    for (slot = 0; slot < S_COUNT; slot++) {
        if (slot == S_HANDLE || slot == S_NAME || slot == S_UUID || slot == S_MEMORY || slot == S_PROC_COMPUTE ||
            slot == S_PROC_GRAPHICS)
            continue;
        s->err[slot] = NVML_ERROR_NOT_SUPPORTED;
    }
    s->events_supported = 0;
}

static struct nvmlDevice_st *mig_slot(unsigned int gpu, unsigned int m) {
    while (g_mig_slots[gpu] <= m) {
        mig_defaults(&g_migs[gpu][g_mig_slots[gpu]], gpu, g_mig_slots[gpu]);
        g_mig_slots[gpu]++;
    }
    g_migs[gpu][m].present = 1;
    return &g_migs[gpu][m];
}

static void copy_truncated(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void gpu_finish(struct nvmlDevice_st *g) {
    char tmp[64];
    unsigned int i, total;

    if (!g->mem_free_set) {
        unsigned long long taken = g->mem_reserved + g->mem_used;
        g->mem_free = taken < g->mem_total ? g->mem_total - taken : 0;
    }
    if (!g->power_enforced_set) g->power_enforced = g->power_limit;
    if (!g->fan_count_set) g->fan_count = g->fan_listed;
    for (i = g->fan_listed; i < g->fan_count; i++) /* more fans than speeds: repeat the last */
        g->fan_speeds[i] = g->fan_listed ? g->fan_speeds[g->fan_listed - 1] : 0;

    snprintf(tmp, sizeof tmp, "%08X:%02X:%02X.0", g->pci_domain, g->pci_bus, g->pci_device);
    copy_truncated(g->bus_id, sizeof g->bus_id, tmp);
    snprintf(tmp, sizeof tmp, "%04X:%02X:%02X.0", g->pci_domain, g->pci_bus, g->pci_device);
    copy_truncated(g->bus_id_legacy, sizeof g->bus_id_legacy, tmp);

    /* Processes that "start" between calls are prepared now, shown by count later. */
    total = g->compute_listed;
    if (g->grow_by > 0) {
        unsigned long long want = (unsigned long long)g->compute_listed +
                                  (unsigned long long)g->grow_by * g->grow_times;
        total = want > FAKE_MAX_PROCS ? FAKE_MAX_PROCS : (unsigned int)want;
    }
    for (i = g->compute_listed; i < total; i++) {
        g->compute[i].pid = FAKE_GROWTH_PID_BASE + (i - g->compute_listed);
        g->compute[i].usedGpuMemory = FAKE_GROWTH_USED_BYTES;
        g->compute[i].gpuInstanceId = 0xFFFFFFFFu;
        g->compute[i].computeInstanceId = 0xFFFFFFFFu;
        g->compute_from[i] = 0;
        g->compute_to[i] = ULLONG_MAX;
    }
    g->compute_capacity = total;
    g->compute_calls = 0;
}

static void host_defaults(void) {
    unsigned int i;
    g_init_err = NVML_SUCCESS;
    g_count_err = NVML_SUCCESS;
    g_driver_version_err = NVML_SUCCESS;
    g_nvml_version_err = NVML_SUCCESS;
    g_cuda_version_err = NVML_SUCCESS;
    snprintf(g_driver_version, sizeof g_driver_version, "%s", "550.54.15");
    snprintf(g_nvml_version, sizeof g_nvml_version, "%s", "12.550.54.15");
    g_cuda_version = 12040;
    g_cuda_version_marker[0] = '\0';
    for (i = 0; i < FAKE_MAX_GPUS; i++) {
        gpu_defaults(&g_gpus[i], i);
        g_mig_slots[i] = 0; /* slices come back only as the scenario names them */
    }
}

/* "reload_on_change = 1": nvmlDeviceGetCount* re-reads the scenario when the file
 * changed (size or mtime), so a test can lose a GPU, bring it back or add one while
 * the caller keeps its NVML session. */
static int g_reload_on_change;
static long long g_scenario_mtime, g_scenario_size;

static void remember_scenario_stamp(void) {
    struct stat info;
    if (g_scenario_path && stat(g_scenario_path, &info) == 0) {
        g_scenario_mtime = (long long)info.st_mtime;
        g_scenario_size = (long long)info.st_size;
    }
}

static int scenario_changed(void) {
    struct stat info;
    if (!g_scenario_path || stat(g_scenario_path, &info) != 0) return 0;
    return (long long)info.st_mtime != g_scenario_mtime || (long long)info.st_size != g_scenario_size;
}

static int parse_host_key(const char *key, char *value, int *count_set, unsigned int *count) {
    nvmlReturn_t code = NVML_SUCCESS;
    int is_code = value[0] == '!';
    if (is_code && !parse_code(value, &code)) return BAD_VALUE();

    if (strcmp(key, "init") == 0) {
        if (is_code) g_init_err = code;
    } else if (strcmp(key, "driver_version") == 0) {
        if (is_code) g_driver_version_err = code;
        else set_string(g_driver_version, value, key);
    } else if (strcmp(key, "nvml_version") == 0) {
        if (is_code) g_nvml_version_err = code;
        else set_string(g_nvml_version, value, key);
    } else if (strcmp(key, "cuda_driver_version") == 0) {
        unsigned long long v;
        if (is_code) g_cuda_version_err = code;
        else if (!parse_u64(value, &v) || v > INT_MAX) return BAD_VALUE();
        else g_cuda_version = (int)v;
    } else if (strcmp(key, "cuda_driver_version_marker") == 0) {
        if (is_code) return BAD_VALUE();
        set_string(g_cuda_version_marker, value, key);
    } else if (strcmp(key, "reload_on_change") == 0) {
        unsigned int on;
        if (is_code || !parse_u32(value, &on)) return BAD_VALUE();
        g_reload_on_change = on != 0;
    } else if (strcmp(key, "device_count") == 0) {
        if (is_code) {
            g_count_err = code;
        } else {
            if (!parse_u32(value, count)) return BAD_VALUE();
            if (*count > FAKE_MAX_GPUS) {
                warn("device_count %s is more than this fake supports (%d)", value, FAKE_MAX_GPUS);
                *count = FAKE_MAX_GPUS;
            }
            *count_set = 1;
        }
    }
    return 1;
}

/* Reads FAKE_NVML_SCENARIO into the static state. Returns DRIVER_NOT_LOADED
 * when there is no scenario to read. */
static nvmlReturn_t load_scenario(void) {
    char line[FAKE_LINE];
    FILE *f;
    int count_set = 0, highest = -1, first = 1;
    unsigned int count = 0, i;

    g_scenario_path = getenv("FAKE_NVML_SCENARIO");
    g_line_no = 0;
    if (!g_scenario_path || !*g_scenario_path) return NVML_ERROR_DRIVER_NOT_LOADED;
    f = fopen(g_scenario_path, "rb");
    if (!f) return NVML_ERROR_DRIVER_NOT_LOADED;

    host_defaults();
    while (fgets(line, sizeof line, f)) {
        char *s = line, *eq, *key, *value;
        size_t len = strlen(line);
        g_line_no++;
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            int c;
            warn("line longer than %d bytes; ignored", (int)sizeof line - 2);
            while ((c = fgetc(f)) != EOF && c != '\n') {
            }
            continue;
        }
        if (first && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 byte order mark */
        first = 0;
        s = trim(s);
        if (*s == '\0' || *s == '#') continue;
        eq = strchr(s, '=');
        if (!eq) {
            warn("no '=' in '%s'; ignored", s);
            continue;
        }
        *eq = '\0';
        key = trim(s);
        value = trim(eq + 1);

        if (strncmp(key, "gpu", 3) == 0 && key[3] >= '0' && key[3] <= '9') {
            char *dot;
            unsigned long n = strtoul(key + 3, &dot, 10);
            if (*dot != '.' || dot[1] == '\0') {
                warn("bad key '%s'; ignored", key);
                continue;
            }
            if (n >= FAKE_MAX_GPUS) {
                warn("'%s': this fake supports gpu0..gpu%d", key, FAKE_MAX_GPUS - 1);
                continue;
            }
            if ((int)n > highest) highest = (int)n;
            parse_gpu_key(&g_gpus[n], dot + 1, value);
        } else {
            parse_host_key(key, value, &count_set, &count);
        }
    }
    fclose(f);

    g_handle_count = count_set ? count : (unsigned int)(highest + 1);
    g_device_count = g_handle_count;
    for (i = 0; i < FAKE_MAX_GPUS; i++) {
        struct nvmlDevice_st *g = &g_gpus[i];
        unsigned int m;
        gpu_finish(g);
        if (!g->mig_pending_set) g->mig_pending = g->mig_current;
        if (g->mig_capable && g->mig_current) {
            /* With MIG on, the GPU's own utilization is not measured. */
            if (g->err[S_UTIL] == NVML_SUCCESS) g->err[S_UTIL] = NVML_ERROR_NOT_SUPPORTED;
            if (g->err[S_SAMPLES_GPU] == NVML_SUCCESS) g->err[S_SAMPLES_GPU] = NVML_ERROR_NOT_SUPPORTED;
            if (g->err[S_SAMPLES_MEMORY] == NVML_SUCCESS) g->err[S_SAMPLES_MEMORY] = NVML_ERROR_NOT_SUPPORTED;
        }
        for (m = 0; m < g_mig_slots[i]; m++) {
            struct nvmlDevice_st *s = &g_migs[i][m];
            gpu_finish(s);
            s->lost = g->lost;
            if (!s->name_set) {
                char tmp[FAKE_STR + 48];
                snprintf(tmp, sizeof tmp, "%s MIG %s", g->name, s->profile);
                copy_truncated(s->name, sizeof s->name, tmp);
            }
        }
    }
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------- */
/* Helpers for the entry points                                               */
/* ------------------------------------------------------------------------- */

/* A slice handle is valid while its slice exists on a GPU with MIG on. */
static int valid_mig(nvmlDevice_t d) {
    uintptr_t p = (uintptr_t)d, base = (uintptr_t)&g_migs[0][0];
    uintptr_t off, i;
    unsigned int gpu, m;
    if (p < base) return 0;
    off = p - base;
    if (off % sizeof g_migs[0][0] != 0) return 0;
    i = off / sizeof g_migs[0][0];
    if (i >= (uintptr_t)FAKE_MAX_GPUS * FAKE_MAX_MIG) return 0;
    gpu = (unsigned int)(i / FAKE_MAX_MIG);
    m = (unsigned int)(i % FAKE_MAX_MIG);
    return gpu < g_handle_count && m < g_mig_slots[gpu] && g_migs[gpu][m].present && g_gpus[gpu].mig_capable &&
           g_gpus[gpu].mig_current;
}

static int valid_device(nvmlDevice_t d) {
    uintptr_t p = (uintptr_t)d, base = (uintptr_t)&g_gpus[0];
    uintptr_t off;
    if (p < base) return valid_mig(d);
    off = p - base;
    if (off >= sizeof g_gpus) return valid_mig(d);
    return off % sizeof g_gpus[0] == 0 && off / sizeof g_gpus[0] < g_handle_count;
}

#define REQUIRE_INIT()                                          \
    do {                                                        \
        if (g_refcount == 0) return NVML_ERROR_UNINITIALIZED;   \
    } while (0)

/* Init, handle, lost: the order every per-device call checks in. */
#define DEVICE_CALL(d)                                             \
    do {                                                           \
        if (g_refcount == 0) return NVML_ERROR_UNINITIALIZED;      \
        if (!valid_device(d)) return NVML_ERROR_INVALID_ARGUMENT;  \
        if ((d)->lost) return NVML_ERROR_GPU_IS_LOST;              \
    } while (0)

/* Checked at the top of versioned entry points only, after DEVICE_CALL. */
#define SYMBOL(d, name)                                                        \
    do {                                                                       \
        for (unsigned int i_ = 0; i_ < (d)->symbol_fail_count; i_++)           \
            if (strcmp((d)->symbol_fail_name[i_], name) == 0) return (d)->symbol_fail_code[i_]; \
    } while (0)

static void fake_sleep_ms(unsigned int ms) {
#if defined(_WIN32)
    Sleep(ms);
#else
    struct timespec wait = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&wait, &wait) != 0) {
    }
#endif
}

/* Wall-clock microseconds since the Unix epoch: NVML's sample timestamps are CPU time. */
static unsigned long long fake_now_us(void) {
#if defined(_WIN32)
    FILETIME ft;
    unsigned long long t;
    GetSystemTimeAsFileTime(&ft);
    t = ((unsigned long long)ft.dwHighDateTime << 32) | ft.dwLowDateTime; /* 100 ns since 1601 */
    return t / 10ULL - 11644473600000000ULL;
#else
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (unsigned long long)now.tv_sec * 1000000ULL + (unsigned long long)now.tv_nsec / 1000ULL;
#endif
}

static unsigned long long g_init_us; /* when the scenario was loaded: events and energy count from here */

static unsigned long long ms_since_init(void) {
    unsigned long long now = fake_now_us();
    return now > g_init_us ? (now - g_init_us) / 1000ULL : 0;
}

/* The value a pattern gives for the sampling period holding time t (microseconds). */
static unsigned int pattern_value(const struct nvmlDevice_st *g, int type, unsigned long long t_us) {
    unsigned long long period = (unsigned long long)g->sample_period_ms * 1000ULL;
    return g->pattern[type][(t_us / period) % g->pattern_len[type]];
}

/* A point reading: the pattern's value now when one is set (and not empty), else the fixed value. */
static unsigned int point_value(const struct nvmlDevice_st *g, int type, unsigned int fixed) {
    if (!g->pattern_set[type] || g->pattern_len[type] == 0) return fixed;
    return pattern_value(g, type, fake_now_us());
}

/* ECC events due so far of one kind: each one is a counted error. */
static unsigned long long ecc_events_due(const struct nvmlDevice_st *g, unsigned long long type) {
    unsigned long long n = 0, now;
    unsigned int i;
    if (g->event_count == 0) return 0; /* no clock read: per-call cost stays tiny */
    now = ms_since_init();
    for (i = 0; i < g->event_count; i++)
        if (g->events[i].type == type && g->events[i].at_ms <= now) n++;
    return n;
}

#define SLOT(d, s)                                      \
    do {                                                \
        if ((d)->err[s] != NVML_SUCCESS) return (d)->err[s]; \
    } while (0)

static nvmlReturn_t put_string(char *buf, unsigned int length, const char *value) {
    size_t n = strlen(value);
    if (!buf) return NVML_ERROR_INVALID_ARGUMENT;
    if ((size_t)length < n + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, value, n + 1);
    return NVML_SUCCESS;
}

static nvmlReturn_t do_init(void) {
    nvmlReturn_t r;
    if (g_refcount > 0) {
        g_refcount++;
        return NVML_SUCCESS;
    }
    g_reload_on_change = 0;
    r = load_scenario();
    if (r != NVML_SUCCESS) return r;
    g_init_us = fake_now_us();
    if (g_init_err != NVML_SUCCESS) return g_init_err;
    remember_scenario_stamp();
    g_refcount = 1;
    return NVML_SUCCESS;
}

static nvmlReturn_t device_count(unsigned int *count) {
    REQUIRE_INIT();
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (g_reload_on_change && scenario_changed()) {
        g_reload_on_change = 0;
        if (load_scenario() == NVML_SUCCESS) remember_scenario_stamp();
    }
    if (g_count_err != NVML_SUCCESS) return g_count_err;
    *count = g_device_count;
    return NVML_SUCCESS;
}

static nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t *device) {
    REQUIRE_INIT();
    if (!device || index >= g_handle_count) return NVML_ERROR_INVALID_ARGUMENT;
    if (g_gpus[index].err[S_HANDLE] != NVML_SUCCESS) return g_gpus[index].err[S_HANDLE];
    *device = &g_gpus[index];
    return NVML_SUCCESS;
}

static nvmlReturn_t pci_legacy(nvmlDevice_t d, nvmlPciInfoLegacy_t *pci) {
    DEVICE_CALL(d);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(d, S_PCI);
    memcpy(pci->busId, d->bus_id_legacy, sizeof pci->busId);
    pci->domain = d->pci_domain;
    pci->bus = d->pci_bus;
    pci->device = d->pci_device;
    pci->pciDeviceId = d->pci_device_id;
    pci->pciSubSystemId = d->pci_subsystem_id;
    pci->reserved0 = pci->reserved1 = pci->reserved2 = pci->reserved3 = 0;
    return NVML_SUCCESS;
}

/* width: 16 (v1), 24 (v2, v3) or 32 (v3 of drivers 535.43-535.86). */
/* The entries of a list that run now (their @FROM-TO holds the wall clock), into `out`. */
static unsigned int running_now(const nvmlProcessInfo_v2_t *list, const unsigned long long *from,
                                const unsigned long long *to, unsigned int n, nvmlProcessInfo_v2_t *out) {
    unsigned long long now_s = fake_now_us() / 1000000ULL;
    unsigned int i, kept = 0;
    for (i = 0; i < n; i++)
        if (from[i] <= now_s && now_s < to[i]) out[kept++] = list[i];
    return kept;
}

static nvmlProcessInfo_v2_t g_running[FAKE_MAX_PROCS];

/* Which list running_processes reads. */
enum { LIST_GRAPHICS = 0, LIST_COMPUTE = 1, LIST_MPS = 2 };

/* A GPU in MIG mode: its slices' running processes of one kind, appended to g_running after n. */
static unsigned int with_slices_processes(const struct nvmlDevice_st *d, int compute, unsigned int n) {
    static nvmlProcessInfo_v2_t slice_running[FAKE_MAX_PROCS];
    unsigned int m, i, k;
    if (d->is_mig || !d->mig_capable || !d->mig_current) return n;
    for (m = 0; m < g_mig_slots[d->index]; m++) {
        const struct nvmlDevice_st *s = &g_migs[d->index][m];
        if (!s->present) continue;
        k = compute == LIST_COMPUTE ? running_now(s->compute, s->compute_from, s->compute_to, s->compute_listed, slice_running)
            : compute == LIST_MPS   ? running_now(s->mps, s->mps_from, s->mps_to, s->mps_listed, slice_running)
                                    : running_now(s->graphics, s->graphics_from, s->graphics_to, s->graphics_listed, slice_running);
        for (i = 0; i < k && n < FAKE_MAX_PROCS; i++) g_running[n++] = slice_running[i];
    }
    return n;
}

static nvmlReturn_t running_processes(nvmlDevice_t d, int compute, unsigned int *infoCount, void *infos,
                                      unsigned int width) {
    const nvmlProcessInfo_v2_t *list;
    unsigned int n, i;

    DEVICE_CALL(d);
    if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
    if (compute == LIST_COMPUTE) {
        unsigned int calls = d->compute_calls, steps;
        SLOT(d, S_PROC_COMPUTE);
        if (calls < UINT_MAX) d->compute_calls = calls + 1;
        steps = calls < d->grow_times ? calls : d->grow_times;
        n = d->compute_listed + (d->grow_by ? steps * d->grow_by : 0);
        if (n > d->compute_capacity) n = d->compute_capacity;
        n = running_now(d->compute, d->compute_from, d->compute_to, n, g_running);
    } else if (compute == LIST_MPS) {
        SLOT(d, S_PROC_MPS);
        n = running_now(d->mps, d->mps_from, d->mps_to, d->mps_listed, g_running);
    } else {
        SLOT(d, S_PROC_GRAPHICS);
        n = running_now(d->graphics, d->graphics_from, d->graphics_to, d->graphics_listed, g_running);
    }
    n = with_slices_processes(d, compute, n);
    list = g_running;
    if (n > *infoCount) {
        *infoCount = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (n == 0) {
        *infoCount = 0;
        return NVML_SUCCESS;
    }
    if (!infos) return NVML_ERROR_INVALID_ARGUMENT;
    switch (width) {
    case 16: {
        nvmlProcessInfo_v1_t *out = (nvmlProcessInfo_v1_t *)infos;
        for (i = 0; i < n; i++) {
            out[i].pid = list[i].pid;
            out[i].usedGpuMemory = list[i].usedGpuMemory;
        }
        break;
    }
    case 32: {
        fakeProcessInfo535_t *out = (fakeProcessInfo535_t *)infos;
        for (i = 0; i < n; i++) {
            out[i].pid = list[i].pid;
            out[i].usedGpuMemory = list[i].usedGpuMemory;
            out[i].gpuInstanceId = list[i].gpuInstanceId;
            out[i].computeInstanceId = list[i].computeInstanceId;
            out[i].usedGpuCcProtectedMemory = 0;
        }
        break;
    }
    default:
        memcpy(infos, list, (size_t)n * sizeof list[0]);
        break;
    }
    *infoCount = n;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------- */
/* Exported API: library                                                      */
/* ------------------------------------------------------------------------- */

FAKE_API nvmlReturn_t nvmlInit(void) { return do_init(); }

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlInit_v2(void) { return do_init(); }

FAKE_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags; /* NVML_INIT_FLAG_NO_GPUS / NO_ATTACH: not modelled */
    return do_init();
}
#endif

FAKE_API nvmlReturn_t nvmlShutdown(void) {
    REQUIRE_INIT();
    g_refcount--;
    return NVML_SUCCESS;
}

FAKE_API const char *nvmlErrorString(nvmlReturn_t result) {
    size_t i;
    for (i = 0; i < sizeof k_codes / sizeof k_codes[0]; i++)
        if (k_codes[i].code == result) return k_codes[i].text;
    return "Unknown Error";
}

/* ------------------------------------------------------------------------- */
/* Exported API: system                                                       */
/* ------------------------------------------------------------------------- */

FAKE_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    REQUIRE_INIT();
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    if (g_driver_version_err != NVML_SUCCESS) return g_driver_version_err;
    return put_string(version, length, g_driver_version);
}

FAKE_API nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    REQUIRE_INIT();
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    if (g_nvml_version_err != NVML_SUCCESS) return g_nvml_version_err;
    return put_string(version, length, g_nvml_version);
}

FAKE_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    REQUIRE_INIT();
    if (g_cuda_version_marker[0]) {
        FILE *marker = fopen(g_cuda_version_marker, "a");
        if (marker) {
            fputs("nvmlSystemGetCudaDriverVersion\n", marker);
            fclose(marker);
        }
    }
    if (!cudaDriverVersion) return NVML_ERROR_INVALID_ARGUMENT;
    if (g_cuda_version_err != NVML_SUCCESS) return g_cuda_version_err;
    *cudaDriverVersion = g_cuda_version;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}
#endif

FAKE_API nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length) {
    unsigned int g, i;
    REQUIRE_INIT();
    if (!name) return NVML_ERROR_INVALID_ARGUMENT;
    for (g = 0; g < g_handle_count; g++) {
        const struct nvmlDevice_st *d = &g_gpus[g];
        int found = 0;
        for (i = 0; i < d->compute_capacity && !found; i++) found = d->compute[i].pid == pid;
        for (i = 0; i < d->graphics_listed && !found; i++) found = d->graphics[i].pid == pid;
        for (i = 0; i < d->mps_listed && !found; i++) found = d->mps[i].pid == pid;
        for (unsigned int m = 0; m < g_mig_slots[g] && !found; m++) {
            const struct nvmlDevice_st *s = &g_migs[g][m];
            for (i = 0; i < s->compute_capacity && !found; i++) found = s->present && s->compute[i].pid == pid;
            for (i = 0; i < s->graphics_listed && !found; i++) found = s->present && s->graphics[i].pid == pid;
        }
        if (found) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "fake-proc-%u", pid);
            return put_string(name, length, tmp);
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

/* ------------------------------------------------------------------------- */
/* Exported API: enumeration and identity                                     */
/* ------------------------------------------------------------------------- */

FAKE_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) { return device_count(deviceCount); }

FAKE_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    return handle_by_index(index, device);
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) { return device_count(deviceCount); }

FAKE_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    return handle_by_index(index, device);
}
#endif

FAKE_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    DEVICE_CALL(device);
    if (!index) return NVML_ERROR_INVALID_ARGUMENT;
    *index = device->index;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    DEVICE_CALL(device);
    if (!uuid) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_UUID);
    return put_string(uuid, length, device->uuid);
}

FAKE_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    DEVICE_CALL(device);
    if (!name) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_NAME);
    return put_string(name, length, device->name);
}

FAKE_API nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length) {
    DEVICE_CALL(device);
    if (!serial) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_SERIAL);
    return put_string(serial, length, device->serial);
}

/* The v1 and v2 symbols fill the pre-v3 52-byte struct (busId[16], legacy format). */
FAKE_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfoLegacy_t *pci) {
    return pci_legacy(device, pci);
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfoLegacy_t *pci) {
    return pci_legacy(device, pci);
}

FAKE_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    DEVICE_CALL(device);
    SYMBOL(device, "nvmlDeviceGetPciInfo_v3");
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_PCI);
    memcpy(pci->busIdLegacy, device->bus_id_legacy, sizeof pci->busIdLegacy);
    pci->domain = device->pci_domain;
    pci->bus = device->pci_bus;
    pci->device = device->pci_device;
    pci->pciDeviceId = device->pci_device_id;
    pci->pciSubSystemId = device->pci_subsystem_id;
    memcpy(pci->busId, device->bus_id, sizeof pci->busId);
    return NVML_SUCCESS;
}
#endif

/* ------------------------------------------------------------------------- */
/* Exported API: dynamic readings                                             */
/* ------------------------------------------------------------------------- */

FAKE_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    DEVICE_CALL(device);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_MEMORY);
    memory->total = device->mem_total;
    memory->free = device->mem_free;
    memory->used = device->mem_used + device->mem_reserved;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    DEVICE_CALL(device);
    SYMBOL(device, "nvmlDeviceGetMemoryInfo_v2");
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    SLOT(device, S_MEMORY);
    memory->total = device->mem_total;
    memory->reserved = device->mem_reserved;
    memory->free = device->mem_free;
    memory->used = device->mem_used;
    return NVML_SUCCESS;
}
#endif

FAKE_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    DEVICE_CALL(device);
    if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_UTIL);
    utilization->gpu = point_value(device, 1, device->util_gpu);
    utilization->memory = point_value(device, 2, device->util_memory);
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                               unsigned int *temp) {
    DEVICE_CALL(device);
    if (!temp || sensorType != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    device->temperature_reads++;
    if (device->hang_once_ms && device->temperature_reads == (device->hang_on_read ? device->hang_on_read : 1)) {
        fake_sleep_ms(device->hang_once_ms);
    }
    SLOT(device, S_TEMP);
    *temp = device->temperature;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned int *numFans) {
    DEVICE_CALL(device);
    if (!numFans) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_FAN);
    *numFans = device->fan_count;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int *speed) {
    DEVICE_CALL(device);
    SYMBOL(device, "nvmlDeviceGetFanSpeed_v2");
    if (!speed) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_FAN);
    if (fan >= device->fan_count) return NVML_ERROR_INVALID_ARGUMENT;
    *speed = device->fan_speeds[fan];
    return NVML_SUCCESS;
}
#endif

FAKE_API nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
    DEVICE_CALL(device);
    if (!speed) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_FAN);
    if (device->fan_count == 0) return NVML_ERROR_NOT_SUPPORTED;
    *speed = device->fan_speeds[0];
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    DEVICE_CALL(device);
    if (!power) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_POWER_USAGE);
    *power = point_value(device, 0, device->power_usage);
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit) {
    DEVICE_CALL(device);
    if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_POWER_LIMIT);
    *limit = device->power_limit;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    DEVICE_CALL(device);
    if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_POWER_ENFORCED);
    *limit = device->power_enforced;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    DEVICE_CALL(device);
    if (!energy) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_ENERGY);
    if (device->energy_rate_mw == 0 && !device->energy_reset_set) {
        *energy = device->energy;
    } else {
        unsigned long long elapsed = ms_since_init();
        unsigned long long base = device->energy;
        if (device->energy_reset_set && elapsed >= device->energy_reset_after_ms) {
            base = 0; /* the driver reloaded: the counter starts again */
            elapsed -= device->energy_reset_after_ms;
        }
        *energy = base + (unsigned long long)device->energy_rate_mw * elapsed / 1000ULL;
    }
    return NVML_SUCCESS;
}
#endif

FAKE_API nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    static const enum fake_slot slots[NVML_CLOCK_COUNT] = {S_CLOCK_GRAPHICS, S_CLOCK_SM, S_CLOCK_MEM,
                                                           S_CLOCK_VIDEO};
    DEVICE_CALL(device);
    if (!clock || (unsigned int)type >= NVML_CLOCK_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, slots[type]);
    *clock = device->clocks[type];
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
    DEVICE_CALL(device);
    if (!pState) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_PSTATE);
    *pState = (nvmlPstates_t)device->pstate;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                                unsigned long long *clocksThrottleReasons) {
    DEVICE_CALL(device);
    if (!clocksThrottleReasons) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_EVENT_REASONS);
    *clocksThrottleReasons = device->event_reasons;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                             unsigned long long *clocksEventReasons) {
    if (g_refcount != 0 && valid_device(device)) SYMBOL(device, "nvmlDeviceGetCurrentClocksEventReasons");
    return nvmlDeviceGetCurrentClocksThrottleReasons(device, clocksEventReasons);
}
#endif

FAKE_API nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current,
                                           nvmlEnableState_t *pending) {
    DEVICE_CALL(device);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_ECC_MODE);
    *current = device->ecc_current ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    *pending = device->ecc_pending ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                  nvmlEccCounterType_t counterType, unsigned long long *eccCounts) {
    static const enum fake_slot slots[NVML_MEMORY_ERROR_TYPE_COUNT][NVML_ECC_COUNTER_TYPE_COUNT] = {
        {S_ECC_CORR_VOL, S_ECC_CORR_AGG}, {S_ECC_UNCORR_VOL, S_ECC_UNCORR_AGG}};
    DEVICE_CALL(device);
    if (!eccCounts || (unsigned int)errorType >= NVML_MEMORY_ERROR_TYPE_COUNT ||
        (unsigned int)counterType >= NVML_ECC_COUNTER_TYPE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, slots[errorType][counterType]);
    *eccCounts = device->ecc_counts[errorType][counterType] +
                 ecc_events_due(device, errorType == NVML_MEMORY_ERROR_TYPE_CORRECTED ? FAKE_EVENT_SINGLE_BIT_ECC
                                                                                    : FAKE_EVENT_DOUBLE_BIT_ECC);
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                      unsigned int *samplingPeriodUs) {
    DEVICE_CALL(device);
    if (!utilization || !samplingPeriodUs) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_ENCODER);
    *utilization = device->encoder_util;
    *samplingPeriodUs = device->encoder_period_us;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                      unsigned int *samplingPeriodUs) {
    DEVICE_CALL(device);
    if (!utilization || !samplingPeriodUs) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_DECODER);
    *utilization = device->decoder_util;
    *samplingPeriodUs = device->decoder_period_us;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen) {
    DEVICE_CALL(device);
    if (!currLinkGen) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_PCIE_GEN);
    *currLinkGen = device->pcie_gen;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth) {
    DEVICE_CALL(device);
    if (!currLinkWidth) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_PCIE_WIDTH);
    *currLinkWidth = device->pcie_width;
    return NVML_SUCCESS;
}

/* nvml.h: nvmlPcieUtilCounter_t, NVML_PCIE_UTIL_TX_BYTES = 0, NVML_PCIE_UTIL_RX_BYTES = 1. */
FAKE_API nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, int counter, unsigned int *value) {
    DEVICE_CALL(device);
    if (!value || counter < 0 || counter > 1) return NVML_ERROR_INVALID_ARGUMENT;
    if (counter == 0) {
        SLOT(device, S_PCIE_TX);
        *value = device->pcie_tx_kbps;
    } else {
        SLOT(device, S_PCIE_RX);
        *value = device->pcie_rx_kbps;
    }
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------- */
/* Exported API: running processes                                            */
/* ------------------------------------------------------------------------- */

FAKE_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                           nvmlProcessInfo_v1_t *infos) {
    return running_processes(device, 1, infoCount, infos, 16);
}

FAKE_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                            nvmlProcessInfo_v1_t *infos) {
    return running_processes(device, 0, infoCount, infos, 16);
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                              nvmlProcessInfo_v2_t *infos) {
    if (g_refcount != 0 && valid_device(device)) SYMBOL(device, "nvmlDeviceGetComputeRunningProcesses_v2");
    return running_processes(device, 1, infoCount, infos, 24);
}

FAKE_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                               nvmlProcessInfo_v2_t *infos) {
    return running_processes(device, 0, infoCount, infos, 24);
}

FAKE_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                              nvmlProcessInfo_t *infos) {
    if (g_refcount != 0 && valid_device(device)) SYMBOL(device, "nvmlDeviceGetComputeRunningProcesses_v3");
    return running_processes(device, 1, infoCount, infos, valid_device(device) ? device->v3_entry_size : 24);
}

FAKE_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                               nvmlProcessInfo_t *infos) {
    return running_processes(device, 0, infoCount, infos, valid_device(device) ? device->v3_entry_size : 24);
}

/* MPS clients: the same entry layouts and versions as the compute list; an old driver has none. */
FAKE_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                              nvmlProcessInfo_v1_t *infos) {
    return running_processes(device, LIST_MPS, infoCount, infos, 16);
}

FAKE_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                                 nvmlProcessInfo_v2_t *infos) {
    return running_processes(device, LIST_MPS, infoCount, infos, 24);
}

FAKE_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                                 nvmlProcessInfo_t *infos) {
    if (g_refcount != 0 && valid_device(device)) SYMBOL(device, "nvmlDeviceGetMPSComputeRunningProcesses_v3");
    return running_processes(device, LIST_MPS, infoCount, infos, valid_device(device) ? device->v3_entry_size : 24);
}
#endif

static int runs_now_on(const struct nvmlDevice_st *d, unsigned int pid) {
    unsigned long long now_s = fake_now_us() / 1000000ULL;
    unsigned int i;
    for (i = 0; i < d->compute_capacity; i++)
        if (d->compute[i].pid == pid && d->compute_from[i] <= now_s && now_s < d->compute_to[i]) return 1;
    for (i = 0; i < d->graphics_listed; i++)
        if (d->graphics[i].pid == pid && d->graphics_from[i] <= now_s && now_s < d->graphics_to[i]) return 1;
    for (i = 0; i < d->mps_listed; i++)
        if (d->mps[i].pid == pid && d->mps_from[i] <= now_s && now_s < d->mps_to[i]) return 1;
    return 0;
}

/* nvml.h: one sample per running process with utilization since lastSeenTimeStamp;
 * none -> NOT_FOUND; a NULL buffer or too small a count -> INSUFFICIENT_SIZE with
 * the count needed. Samples carry the time of the call. */
FAKE_API nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
                                                      unsigned int *processSamplesCount,
                                                      unsigned long long lastSeenTimeStamp) {
    unsigned long long now = fake_now_us();
    unsigned int i, n = 0;
    DEVICE_CALL(device);
    if (!processSamplesCount) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_PROC_COMPUTE);
    SLOT(device, S_PROC_UTIL);
    if (now > lastSeenTimeStamp)
        for (i = 0; i < device->proc_util_listed; i++) n += runs_now_on(device, device->proc_util[i][0]);
    if (n == 0) {
        *processSamplesCount = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    if (!utilization || *processSamplesCount < n) {
        *processSamplesCount = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    n = 0;
    for (i = 0; i < device->proc_util_listed; i++) {
        if (!runs_now_on(device, device->proc_util[i][0])) continue;
        utilization[n].pid = device->proc_util[i][0];
        utilization[n].timeStamp = now;
        utilization[n].smUtil = device->proc_util[i][1];
        utilization[n].memUtil = device->proc_util[i][2];
        utilization[n].encUtil = device->proc_util[i][3];
        utilization[n].decUtil = device->proc_util[i][4];
        n++;
    }
    *processSamplesCount = n;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------- */
/* Exported API: driver sample buffers                                        */
/* ------------------------------------------------------------------------- */

typedef enum nvmlValueType_enum {
    NVML_VALUE_TYPE_DOUBLE = 0,
    NVML_VALUE_TYPE_UNSIGNED_INT = 1,
    NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
    NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
    NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
    NVML_VALUE_TYPE_SIGNED_INT = 5,
    NVML_VALUE_TYPE_UNSIGNED_SHORT = 6
} nvmlValueType_t;

typedef union nvmlValue_st {
    double dVal;
    int siVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    signed long long sllVal;
    unsigned short usVal;
} nvmlValue_t;

typedef struct nvmlSample_st {
    unsigned long long timeStamp; /* CPU timestamp, microseconds */
    nvmlValue_t sampleValue;
} nvmlSample_t;

FAKE_ABI_CHECK(sizeof(nvmlSample_t) == 16, "nvmlSample_t is 16 bytes");

/* Sample k covers [k*P, (k+1)*P) and is stamped (k+1)*P; the ring keeps the newest
 * `sample_length` complete ones. Answers the oldest that fit after lastSeen. */
FAKE_API nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t device, int type, unsigned long long lastSeenTimeStamp,
                                           nvmlValueType_t *sampleValType, unsigned int *sampleCount,
                                           nvmlSample_t *samples) {
    unsigned long long period, last_k, first_k, k, n;
    DEVICE_CALL(device);
    if (type < 0 || type >= FAKE_SAMPLE_TYPES) return NVML_ERROR_NOT_SUPPORTED;
    if (!sampleValType || !sampleCount) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_SAMPLES_POWER + type);
    if (!samples) {
        *sampleCount = device->sample_length;
        return NVML_SUCCESS;
    }
    if (*sampleCount == 0) return NVML_ERROR_INVALID_ARGUMENT;
    if (device->pattern_set[type] && device->pattern_len[type] == 0) return NVML_ERROR_NOT_FOUND;
    period = (unsigned long long)device->sample_period_ms * 1000ULL;
    k = fake_now_us() / period; /* the period in progress */
    if (k == 0) return NVML_ERROR_NOT_FOUND;
    last_k = k - 1;
    first_k = last_k + 1 >= device->sample_length ? last_k + 1 - device->sample_length : 0;
    if (lastSeenTimeStamp / period > first_k) first_k = lastSeenTimeStamp / period;
    if (first_k > last_k) return NVML_ERROR_NOT_FOUND;
    n = last_k - first_k + 1;
    if (n > *sampleCount) n = *sampleCount;
    for (k = 0; k < n; k++) {
        unsigned long long at = (first_k + k) * period;
        samples[k].timeStamp = at + period;
        samples[k].sampleValue.ullVal = 0;
        samples[k].sampleValue.uiVal =
            device->pattern_set[type] ? pattern_value(device, type, at)
            : type == 0              ? device->power_usage
            : type == 1              ? device->util_gpu
                                     : device->util_memory;
    }
    *sampleValType = NVML_VALUE_TYPE_UNSIGNED_INT;
    *sampleCount = (unsigned int)n;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------- */
/* Exported API: events                                                       */
/* ------------------------------------------------------------------------- */

typedef struct nvmlEventSet_st *nvmlEventSet_t;

typedef struct nvmlEventData_st {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlEventData_t;

/* What nvmlEventSetWait (v1) wrote: no instance ids. */
typedef struct fakeEventDataV1_st {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
} fakeEventDataV1_t;

FAKE_ABI_CHECK(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t is 32 bytes");
FAKE_ABI_CHECK(offsetof(nvmlEventData_t, eventData) == 16, "nvmlEventData_t.eventData at 16");

#define FAKE_MAX_SETS 8
struct nvmlEventSet_st {
    int used;
    unsigned long long mask[FAKE_MAX_GPUS];
    unsigned int next[FAKE_MAX_GPUS]; /* the GPU's next event not yet delivered to this set */
};
static struct nvmlEventSet_st g_sets[FAKE_MAX_SETS];

static int valid_set(nvmlEventSet_t set) {
    uintptr_t p = (uintptr_t)set, base = (uintptr_t)&g_sets[0];
    if (p < base || (p - base) % sizeof g_sets[0] != 0 || (p - base) / sizeof g_sets[0] >= FAKE_MAX_SETS) return 0;
    return set->used;
}

FAKE_API nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    unsigned int i;
    REQUIRE_INIT();
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < FAKE_MAX_SETS; i++) {
        if (!g_sets[i].used) {
            memset(&g_sets[i], 0, sizeof g_sets[i]);
            g_sets[i].used = 1;
            *set = &g_sets[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INSUFFICIENT_RESOURCES;
}

FAKE_API nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    REQUIRE_INIT();
    if (!valid_set(set)) return NVML_ERROR_INVALID_ARGUMENT;
    set->used = 0;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes) {
    DEVICE_CALL(device);
    if (!eventTypes) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_EVENTS);
    *eventTypes = device->events_supported;
    return NVML_SUCCESS;
}

/* Events that happened before registration are not delivered, as with the driver. */
FAKE_API nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set) {
    unsigned long long now;
    unsigned int i;
    DEVICE_CALL(device);
    if (!valid_set(set)) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_EVENTS);
    if (eventTypes & ~device->events_supported) return NVML_ERROR_NOT_SUPPORTED;
    now = ms_since_init();
    if (set->mask[device->index] == 0) {
        for (i = 0; i < device->event_count && device->events[i].at_ms < now; i++) {
        }
        set->next[device->index] = i;
    }
    set->mask[device->index] |= eventTypes;
    return NVML_SUCCESS;
}

/* The earliest due event of a registered type; skips due events of other types. */
static int next_event(nvmlEventSet_t set, unsigned int *gpu_out, const struct fake_event **event_out) {
    unsigned long long now = ms_since_init(), best_at = 0;
    unsigned int g;
    int found = 0;
    for (g = 0; g < g_handle_count; g++) {
        struct nvmlDevice_st *d = &g_gpus[g];
        if (set->mask[g] == 0) continue;
        while (set->next[g] < d->event_count && d->events[set->next[g]].at_ms <= now &&
               !(d->events[set->next[g]].type & set->mask[g]))
            set->next[g]++;
        if (set->next[g] < d->event_count && d->events[set->next[g]].at_ms <= now &&
            (!found || d->events[set->next[g]].at_ms < best_at)) {
            found = 1;
            best_at = d->events[set->next[g]].at_ms;
            *gpu_out = g;
            *event_out = &d->events[set->next[g]];
        }
    }
    return found;
}

static nvmlReturn_t event_wait(nvmlEventSet_t set, unsigned int timeoutms, nvmlDevice_t *device,
                               unsigned long long *type, unsigned long long *data) {
    unsigned int waited = 0, gpu = 0;
    const struct fake_event *event = NULL;
    REQUIRE_INIT();
    if (!valid_set(set)) return NVML_ERROR_INVALID_ARGUMENT;
    for (gpu = 0; gpu < g_handle_count; gpu++) /* a registered GPU gone: the driver says so on every wait */
        if (set->mask[gpu] && g_gpus[gpu].lost) return NVML_ERROR_GPU_IS_LOST;
    for (;;) {
        if (next_event(set, &gpu, &event)) {
            *device = &g_gpus[gpu];
            *type = event->type;
            *data = event->data;
            set->next[gpu]++;
            return NVML_SUCCESS;
        }
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        fake_sleep_ms(10);
        waited += 10;
    }
}

FAKE_API nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, fakeEventDataV1_t *data, unsigned int timeoutms) {
    if (!data) return NVML_ERROR_INVALID_ARGUMENT;
    return event_wait(set, timeoutms, &data->device, &data->eventType, &data->eventData);
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    nvmlReturn_t r;
    if (!data) return NVML_ERROR_INVALID_ARGUMENT;
    r = event_wait(set, timeoutms, &data->device, &data->eventType, &data->eventData);
    if (r == NVML_SUCCESS) {
        data->gpuInstanceId = 0xFFFFFFFFu;
        data->computeInstanceId = 0xFFFFFFFFu;
    }
    return r;
}

/* ------------------------------------------------------------------------- */
/* Exported API: row remapping (Ampere and later; absent from old drivers)    */
/* ------------------------------------------------------------------------- */

FAKE_API nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                                unsigned int *isPending, unsigned int *failureOccurred) {
    DEVICE_CALL(device);
    if (!corrRows || !uncRows || !isPending || !failureOccurred) return NVML_ERROR_INVALID_ARGUMENT;
    SLOT(device, S_REMAPPED);
    *corrRows = device->remapped[0];
    *uncRows = device->remapped[1];
    *isPending = device->remapped[2];
    *failureOccurred = device->remapped[3];
    return NVML_SUCCESS;
}
#endif

/* ------------------------------------------------------------------------- */
/* Exported API: MIG and GPM (Ampere/Hopper; absent from old drivers)         */
/* ------------------------------------------------------------------------- */

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
    DEVICE_CALL(device);
    if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
    if (device->is_mig || !device->mig_capable) return NVML_ERROR_NOT_SUPPORTED;
    SLOT(device, S_MIG_MODE);
    *currentMode = device->mig_current;
    *pendingMode = device->mig_pending;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
    DEVICE_CALL(device);
    if (!count || device->is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    *count = device->mig_capable && device->mig_current ? FAKE_MAX_MIG : 0;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                          nvmlDevice_t *migDevice) {
    DEVICE_CALL(device);
    if (!migDevice || device->is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    if (!device->mig_capable || !device->mig_current) return NVML_ERROR_NOT_SUPPORTED;
    if (index >= FAKE_MAX_MIG) return NVML_ERROR_INVALID_ARGUMENT;
    if (index >= g_mig_slots[device->index] || !g_migs[device->index][index].present) return NVML_ERROR_NOT_FOUND;
    *migDevice = &g_migs[device->index][index];
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice) {
    DEVICE_CALL(device);
    if (!isMigDevice) return NVML_ERROR_INVALID_ARGUMENT;
    *isMigDevice = device->is_mig ? 1u : 0u;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device) {
    DEVICE_CALL(migDevice);
    if (!device || !migDevice->is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &g_gpus[migDevice->parent];
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id) {
    DEVICE_CALL(device);
    if (!id) return NVML_ERROR_INVALID_ARGUMENT;
    if (!device->is_mig) return NVML_ERROR_NOT_SUPPORTED;
    *id = device->gi_id;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id) {
    DEVICE_CALL(device);
    if (!id) return NVML_ERROR_INVALID_ARGUMENT;
    if (!device->is_mig) return NVML_ERROR_NOT_SUPPORTED;
    *id = device->ci_id;
    return NVML_SUCCESS;
}

#define FAKE_GPM_MAGIC 0x47504d53u /* "GPMS" */

struct nvmlGpmSample_st {
    unsigned int magic;
    int taken;
    unsigned int gpu;
    int gpu_instance; /* -1: the whole GPU */
    char instance_uuid[FAKE_STR]; /* which GPU instance (its first MIG device): one destroyed and made again has another */
    unsigned long long t_us;
    double values[FAKE_GPM_IDS];
};

static int gpm_answers(unsigned int id) {
    return id == NVML_GPM_METRIC_GRAPHICS_UTIL || id == NVML_GPM_METRIC_SM_UTIL || id == NVML_GPM_METRIC_SM_OCCUPANCY ||
           id == NVML_GPM_METRIC_ANY_TENSOR_UTIL || id == NVML_GPM_METRIC_DRAM_BW_UTIL;
}

FAKE_API nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t *gpmSupport) {
    DEVICE_CALL(device);
    if (!gpmSupport) return NVML_ERROR_INVALID_ARGUMENT;
    if (gpmSupport->version != NVML_GPM_SUPPORT_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    gpmSupport->isSupportedDevice = !device->is_mig && device->gpm_supported ? 1u : 0u;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *gpmSample) {
    struct nvmlGpmSample_st *sample;
    if (!gpmSample) return NVML_ERROR_INVALID_ARGUMENT;
    sample = calloc(1, sizeof *sample);
    if (!sample) return NVML_ERROR_MEMORY;
    sample->magic = FAKE_GPM_MAGIC;
    *gpmSample = sample;
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t gpmSample) {
    if (!gpmSample || gpmSample->magic != FAKE_GPM_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    gpmSample->magic = 0;
    free(gpmSample);
    return NVML_SUCCESS;
}

static nvmlReturn_t gpm_take(nvmlGpmSample_t sample, const struct nvmlDevice_st *source, unsigned int gpu,
                             int gpu_instance) {
    if (!sample || sample->magic != FAKE_GPM_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    sample->taken = 1;
    sample->gpu = gpu;
    sample->gpu_instance = gpu_instance;
    snprintf(sample->instance_uuid, sizeof sample->instance_uuid, "%s", gpu_instance < 0 ? "" : source->uuid);
    sample->t_us = fake_now_us();
    memcpy(sample->values, source->gpm, sizeof sample->values);
    return NVML_SUCCESS;
}

FAKE_API nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t gpmSample) {
    DEVICE_CALL(device);
    if (device->is_mig || !device->gpm_supported) return NVML_ERROR_NOT_SUPPORTED;
    SLOT(device, S_GPM);
    return gpm_take(gpmSample, device, device->index, -1);
}

#ifndef FAKE_NVML_DRIVER_520
FAKE_API nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t device, unsigned int gpuInstanceId, nvmlGpmSample_t gpmSample) {
    unsigned int m;
    DEVICE_CALL(device);
    if (device->is_mig || !device->gpm_supported) return NVML_ERROR_NOT_SUPPORTED;
    if (!device->mig_capable || !device->mig_current) return NVML_ERROR_NOT_SUPPORTED;
    SLOT(device, S_GPM);
    for (m = 0; m < g_mig_slots[device->index]; m++) {
        const struct nvmlDevice_st *s = &g_migs[device->index][m];
        if (s->present && s->gi_id == gpuInstanceId) return gpm_take(gpmSample, s, device->index, (int)gpuInstanceId);
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}
#endif

FAKE_API nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *metricsGet) {
    static char k_unit[] = "%";
    const struct nvmlGpmSample_st *a, *b;
    unsigned int i;
    REQUIRE_INIT();
    if (!metricsGet) return NVML_ERROR_INVALID_ARGUMENT;
    if (metricsGet->version != NVML_GPM_METRICS_GET_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (metricsGet->numMetrics > NVML_GPM_METRIC_MAX) return NVML_ERROR_INVALID_ARGUMENT;
    a = metricsGet->sample1;
    b = metricsGet->sample2;
    if (!a || !b || a->magic != FAKE_GPM_MAGIC || b->magic != FAKE_GPM_MAGIC || !a->taken || !b->taken)
        return NVML_ERROR_INVALID_ARGUMENT;
    /* Two samples of one source, in time order (a benchmark may take both in one microsecond): anything else has no meaning. */
    if (a->gpu != b->gpu || a->gpu_instance != b->gpu_instance || b->t_us < a->t_us) return NVML_ERROR_INVALID_ARGUMENT;
    if (strcmp(a->instance_uuid, b->instance_uuid) != 0) return NVML_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < metricsGet->numMetrics; i++) {
        nvmlGpmMetric_t *metric = &metricsGet->metrics[i];
        metric->metricInfo.shortName = NULL;
        metric->metricInfo.longName = NULL;
        metric->metricInfo.unit = NULL;
        if (!gpm_answers(metric->metricId)) {
            metric->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            metric->value = 0;
            continue;
        }
        metric->nvmlReturn = NVML_SUCCESS;
        metric->value = b->values[metric->metricId];
        metric->metricInfo.unit = k_unit;
    }
    return NVML_SUCCESS;
}
#endif
