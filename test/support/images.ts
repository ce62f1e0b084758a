import sharp from "sharp";

export async function png(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: (seed * 37) % 256, g: (seed * 91) % 256, b: (seed * 13) % 256 } } })
    .png()
    .toBuffer();
}

export async function jpegWithExif(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 20, g: 120, b: 200 } } })
    .jpeg()
    .withExif({
      IFD0: { Make: "TestCam" },
      IFD2: { DateTimeOriginal: "2020:10:26 07:44:56" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "52/1 22/1 30/1", GPSLongitudeRef: "W", GPSLongitude: "4/1 30/1 0/1" },
    })
    .toBuffer();
}
