// What an XID means, in NVIDIA's words (the XID catalog in NVIDIA's "XID Errors"
// documentation), for the codes seen in practice. Pure.

const DESCRIPTIONS: ReadonlyMap<number, string> = new Map([
  [8, "GPU stopped processing (timeout): driver or application error"],
  [13, "Graphics engine exception: usually an application error (illegal instruction or memory access)"],
  [31, "GPU memory page fault: usually an application accessing an illegal address"],
  [32, "Invalid or corrupted push buffer stream (PCIe or driver error)"],
  [38, "Driver firmware error"],
  [43, "GPU stopped processing: a channel was reset after an application fault"],
  [45, "Preemptive cleanup after earlier errors (a process was killed or a channel reset)"],
  [48, "Double-bit ECC error (uncorrectable): the GPU needs a reset"],
  [56, "Display engine error"],
  [57, "Error programming video memory interface"],
  [61, "Internal micro-controller breakpoint/warning (firmware)"],
  [62, "Internal micro-controller halt (firmware): the GPU may need a reset"],
  [63, "ECC page retirement or row remapping recorded"],
  [64, "ECC page retirement or row remapping recording failed"],
  [65, "Video processor exception"],
  [68, "NVDEC0 exception: video decoder error"],
  [69, "Graphics engine class error"],
  [74, "NVLink error"],
  [79, "GPU has fallen off the bus: it no longer answers on PCIe"],
  [92, "High single-bit ECC error rate"],
  [94, "Contained ECC error: the affected applications were stopped; row remapping pending"],
  [95, "Uncontained ECC error: all applications on the GPU were stopped; the GPU needs a reset"],
  [109, "Context switch timeout"],
  [119, "GSP RPC timeout: the GPU System Processor did not answer"],
  [120, "GSP error: the GPU System Processor reported an error"],
  [121, "C2C (chip-to-chip) link error"],
  [140, "Unrecovered ECC error"],
  [154, "GPU recovery action changed: a reset or reboot may be required"],
]);

/** NVIDIA's description of an XID, or null for a code without one here. */
export function xidDescription(code: number): string | null {
  return DESCRIPTIONS.get(code) ?? null;
}

/** "XID 79 (GPU has fallen off the bus: …)", or "XID 999" for a code without a description. */
export function xidText(code: number): string {
  const description = xidDescription(code);
  return description ? `XID ${code} (${description})` : `XID ${code}`;
}
