import { describe, expect, test } from "bun:test";
import { displayWidth, renderTable } from "../../../src/cli/format/table.ts";

describe("renderTable measures terminal columns, not characters", () => {
  test("CJK and emoji take two columns each", () => {
    expect(displayWidth("A100")).toBe(4);
    expect(displayWidth("训练任务")).toBe(8);
    expect(displayWidth("🔥gpu")).toBe(5);
    expect(displayWidth("e\u0301")).toBe(1); // a combining accent takes none
  });

  test("a wide name keeps the next column under its header", () => {
    const table = renderTable(
      [{ header: "Process" }, { header: "GPU memory", align: "right" }],
      [
        ["python", "896MiB"],
        ["训练任务", "1024MiB"],
        ["🔥burn🔥", "12MiB"],
      ],
    );
    // Process is 8 columns wide (the CJK name, the emoji name), GPU memory 10.
    expect(table).toBe(
      ["Process   GPU memory", "python        896MiB", "训练任务     1024MiB", "🔥burn🔥       12MiB", ""].join("\n"),
    );
    const lines = table.trimEnd().split("\n");
    expect(new Set(lines.map(displayWidth)).size).toBe(1); // every line ends in the same column
  });
});
