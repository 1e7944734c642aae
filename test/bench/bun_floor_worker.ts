// bun_floor.ts's sampling Worker: answers each request with 8 rows of the given width.
declare const self: Worker;

let reading = 0;
self.onmessage = (event: MessageEvent<number>) => {
  reading++;
  self.postMessage(Array.from({ length: 8 }, (_, gpu) => Array.from({ length: event.data }, (_, column) => gpu * 1000 + column + reading)));
};
