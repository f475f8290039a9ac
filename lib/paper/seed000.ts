// Seed 000's comparison of ConvMixer-Unet with Unet (section VI, its table), as printed: reference data, never a result
// of this suite. Its setting: Cityscapes at 256x512, 20 epochs, batch 24, AdamW, Dice loss, random horizontal flip, no
// pretraining; hardware not named for this table (its other experiments ran on AMD R9 nano GPUs with 4 GB each).
// Inference: "using a batch of 500 pictures, ConvMixer-Unet uses 114,5 seconds ..., while Unet uses just 27,7 seconds".

export const SEED000_SOURCE = 'seed 000 (ConvMixer-Unet / YOLO-ConvMixer report), section VI, comparison table; values as printed';

export interface SeedSegRow {
  /** The registry model this suite builds for the row. */
  model: 'convmixer_unet' | 'unet';
  label: string;
  /** Printed parameter count, millions. */
  paramsM: number;
  minutesPerEpoch: number;
  /** Printed inference speed, images per second (from 500 images in 114.5 s / 27.7 s). */
  inferImgPerSec: number;
  inferSecondsFor500: number;
  /** Dice loss on the evaluation set (lower is better). */
  diceLoss: number;
  /** IoU on the evaluation set (the seed does not say whether mean over classes, nor how void is treated). */
  iou: number;
}

export const SEED000_SEGMENTATION: readonly SeedSegRow[] = [
  { model: 'convmixer_unet', label: 'ConvMixer-Unet', paramsM: 23.4, minutesPerEpoch: 58, inferImgPerSec: 4.3, inferSecondsFor500: 114.5, diceLoss: 0.2628, iou: 0.3288 },
  { model: 'unet', label: 'Unet', paramsM: 31, minutesPerEpoch: 23, inferImgPerSec: 18, inferSecondsFor500: 27.7, diceLoss: 0.5976, iou: 0.3035 },
];

// Seed 000's detector table (section II, "Table 4": "Performance comparison of various object detectors on MS COCO and
// PASCAL VOC 2012 datasets at similar input image size"): literature values the seed copied from other papers, none of
// them measured by the seed or by this suite; as printed (AP columns in %, '-' as null). Its YOLO-ConvMixer row gives
// only "49.7" in the size column, with no AP: the seed reports no mAP.
export const SEED000_DETECTOR_SOURCE = 'seed 000, section II, Table 4 (literature values as the seed printed them; not reproduced)';

export interface SeedDetectorRow { model: string; year: number; backbone: string; size: string; ap: number | null; ap50: number | null; fps: string | null }

export const SEED000_DETECTORS: readonly SeedDetectorRow[] = [
  { model: 'R-CNN*', year: 2014, backbone: 'AlexNet', size: '224', ap: null, ap50: 58.5, fps: '~0.02' },
  { model: 'SPP-Net*', year: 2015, backbone: 'ZF-5', size: 'Variable', ap: null, ap50: 59.2, fps: '~0.23' },
  { model: 'Fast R-CNN*', year: 2015, backbone: 'VGG-16', size: 'Variable', ap: null, ap50: 65.7, fps: '~0.43' },
  { model: 'Faster R-CNN*', year: 2016, backbone: 'VGG-16', size: '600', ap: null, ap50: 67.0, fps: '5' },
  { model: 'R-FCN', year: 2016, backbone: 'ResNet-101', size: '600', ap: 31.5, ap50: 53.2, fps: '~3' },
  { model: 'FPN', year: 2017, backbone: 'ResNet-101', size: '800', ap: 36.2, ap50: 59.1, fps: '5' },
  { model: 'Mask R-CNN', year: 2018, backbone: 'ResNeXt-101-FPN', size: '800', ap: 39.8, ap50: 62.3, fps: '5' },
  { model: 'DetectoRS', year: 2020, backbone: 'ResNeXt-101', size: '1333', ap: 53.3, ap50: 71.6, fps: '~4' },
  { model: 'YOLO*', year: 2015, backbone: '(Modified) GoogLeNet', size: '448', ap: null, ap50: 57.9, fps: '45' },
  { model: 'SSD', year: 2016, backbone: 'VGG-16', size: '300', ap: 23.2, ap50: 41.2, fps: '46' },
  { model: 'YOLOv2', year: 2016, backbone: 'DarkNet-19', size: '352', ap: 21.6, ap50: 44.0, fps: '81' },
  { model: 'RetinaNet', year: 2018, backbone: 'ResNet-101-FPN', size: '400', ap: 31.9, ap50: 49.5, fps: '12' },
  { model: 'YOLOv3', year: 2018, backbone: 'DarkNet-53', size: '320', ap: 28.2, ap50: 51.5, fps: '45' },
  { model: 'CenterNet', year: 2019, backbone: 'Hourglass-104', size: '512', ap: 42.1, ap50: 61.1, fps: '7.8' },
  { model: 'EfficientDet-D2', year: 2020, backbone: 'Efficient-B2', size: '768', ap: 43.0, ap50: 62.3, fps: '41.7' },
  { model: 'YOLOv4', year: 2020, backbone: 'CSPDarkNet-53', size: '512', ap: 43.0, ap50: 64.9, fps: '31' },
  { model: 'DeTR', year: 2020, backbone: 'ResNet-101', size: '-', ap: 43.5, ap50: 63.8, fps: '20' },
  { model: 'Swin-L', year: 2021, backbone: 'HTC++', size: '-', ap: 57.7, ap50: null, fps: null },
  { model: 'YOLO-ConvMixer', year: 2022, backbone: 'ConvMixer', size: '49.7', ap: null, ap50: null, fps: null },
];

/** What the seed says of its own YOLO-ConvMixer run (section IV): setting and outcome, no numbers for accuracy. */
export const SEED000_YOLO_RUN = {
  model: 'ConvMixer-768/32 (ImageNet-1k weights) + 9x9 pool + Linear-LeakyReLU-Linear YOLOv1 head',
  data: 'Pascal VOC 2012 (5,717 training images), 448x448, no augmentation',
  optimizer: 'Adam (0.9, 0.999), no schedule (AdamW diverged)',
  epochs: 20, batchSize: 3, hardware: '3 AMD R9 nano (4 GB each) on a 4-core CPU', trainHours: 33,
  outcome: 'the model has dramatically overfitted data, although it was trained for only 20 epochs',
} as const;
