import { openTestStore } from './helpers/store';
test('time', async () => {
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const t = await openTestStore('timing');
    const t1 = Date.now();
    await t.close();
    process.stderr.write(`open ${t1 - t0} ms, close ${Date.now() - t1} ms\n`);
  }
});
