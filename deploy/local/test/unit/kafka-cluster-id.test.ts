import { newClusterId } from '../../src/kafka';

it("Kafka cluster ids never start with '-' (a command line would read one as an option), and are 16 bytes of URL-safe base64", () => {
  for (let i = 0; i < 5000; i++) {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  }
});
