// `npm run bench`: every benchmark, figures printed for the README's Performance section.
// `npm run bench -- --days 2` runs the storage benchmark on less data.
import { printSampling, samplingBenchmark } from "./sampling.ts";
import { printShipping, shippingBenchmark } from "./shipping.ts";
import { printStorage, storageBenchmark } from "./storage.ts";

const at = process.argv.indexOf("--days");
printSampling(samplingBenchmark());
printShipping(await shippingBenchmark());
printStorage(await storageBenchmark(at > 0 ? Number(process.argv[at + 1]) : 30));
