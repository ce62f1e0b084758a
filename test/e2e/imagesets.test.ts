import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startTestStack, uploadToDropbox, waitFor, type TestStack } from "../support/stack.js";
import { jpegWithExif, png } from "../support/images.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

describe("image sets over real HTTP", () => {
  it("creates a set, takes uploads through its SAS dropbox, copies them and serves them", async () => {
    const created = await call(stack, "POST", "/image_sets", stack.admin, { title: "imageset-e2e-1", metadata: { country: "Nederland" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      title: "imageset-e2e-1",
      status: "created",
      metadata: { country: "Nederland" },
      blobstorage_path: "dropbox-imageset-e2e-1",
      date_finished: null,
    });
    expect(created.body.date_created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(created.body.dropbox_url).toMatch(/sp=rwdl/);
    const id = created.body.imageset_id as number;

    const car = await png(200, 150, 3);
    const photo = await jpegWithExif(320, 240);
    await uploadToDropbox(created.body.dropbox_url, "car.png", car);
    await uploadToDropbox(created.body.dropbox_url, "sub/photo.jpg", photo);
    await uploadToDropbox(created.body.dropbox_url, "notes.txt", "this is not an image");

    expect((await call(stack, "PUT", `/image_sets/${id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    const finished = await waitFor("set finished", async () => {
      const r = await call(stack, "GET", `/image_sets/${id}`, stack.admin);
      return r.body.status === "finished" ? r.body : undefined;
    });
    expect(finished.date_finished).toMatch(/Z$/);
    expect(finished.dropbox_url).toBeNull();
    expect(finished.rejected_files).toEqual([{ name: "notes.txt", reason: expect.stringMatching(/not a decodable image|unsupported/) }]);
    expect(await stack.host.services.clients.blobService.getContainerClient("dropbox-imageset-e2e-1").exists()).toBe(false);

    const listed = await call(stack, "GET", `/image_sets/${id}/images`, stack.admin);
    expect(listed.body.pagination).toEqual({ page: 1, pages: 1, per_page: 100, total: 2, next: null, prev: null });
    const byPath = Object.fromEntries(listed.body.images.map((i: any) => [i.blobstorage_path, i]));
    expect(byPath["uploads/imageset-e2e-1/car.png"]).toMatchObject({
      file: { dimensions: { width: 200, height: 150 }, filesize: car.length, filetype: "PNG" },
      imageset: { imageset_id: id, title: "imageset-e2e-1" },
      date_taken: null,
      location: { description: null, lat: null, lon: null },
    });
    const jpeg = byPath["uploads/imageset-e2e-1/sub/photo.jpg"];
    expect(jpeg).toMatchObject({ file: { dimensions: { width: 320, height: 240 }, filetype: "JPEG" }, date_taken: "2020-10-26T07:44:56.000000Z" });
    expect(jpeg.location.lat).toBeCloseTo(52 + 22 / 60 + 30 / 3600, 6);
    expect(jpeg.location.lon).toBeCloseTo(-4.5, 6);

    // The 303 leads to the stored bytes.
    const redirect = await call(stack, "GET", `/images/${jpeg.image_id}`, stack.admin);
    expect(redirect.status).toBe(303);
    const location = redirect.headers.get("location")!;
    expect(location).toMatch(/sp=r&|sp=r$/);
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(bytes.equals(photo)).toBe(true);

    const all = await call(stack, "GET", "/images?per_page=1&page=2", stack.admin);
    expect(all.body.pagination).toMatchObject({ page: 2, pages: 2, per_page: 1, total: 2, next: null, prev: 1 });
    expect(all.body.images).toHaveLength(1);

    // Finishing twice is a conflict, not a second copy.
    expect((await call(stack, "PUT", `/image_sets/${id}`, stack.admin, { new_status: "finished" })).status).toBe(409);
  });

  it("adds stored images to a created set by id and filepath, once each", async () => {
    const target = await call(stack, "POST", "/image_sets", stack.admin, { title: "imageset-e2e-2" });
    const images = await call(stack, "GET", "/images", stack.admin);
    const [first, second] = images.body.images;
    const body = [{ id: first.image_id }, { filepath: second.blobstorage_path }, { id: first.image_id }];
    expect((await call(stack, "POST", `/image_sets/${target.body.imageset_id}/images`, stack.admin, body)).body).toBe("ok");
    const listed = await call(stack, "GET", `/image_sets/${target.body.imageset_id}/images`, stack.admin);
    expect(listed.body.images.map((i: any) => i.image_id).sort()).toEqual([first.image_id, second.image_id].sort());
    const unknown = await call(stack, "POST", `/image_sets/${target.body.imageset_id}/images`, stack.admin, [{ id: 999999 }]);
    expect(unknown.status).toBe(422);
    expect(unknown.body.detail).toContain("999999");
  });

  it("lists sets with the contract's pagination", async () => {
    const r = await call(stack, "GET", "/image_sets?per_page=1", stack.admin);
    expect(r.body.pagination).toMatchObject({ page: 1, per_page: 1, total: 2, pages: 2, next: 2, prev: null });
    expect(r.body.image_sets[0].title).toBe("imageset-e2e-1");
  });
});
