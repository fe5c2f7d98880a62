# HR training data: DIS5K DIS-TR + ThinObject-5K train.
#   data/DIS5K/DIS-TR/im/*.jpg, data/DIS5K/DIS-TR/gt/*.png
#   data/ThinObject5K/images/*.jpg, data/ThinObject5K/masks/*.png, .../list/train.txt
# The offline coarse masks (<coarse folder>/gt/<name>.png, <coarse folder>/filled/<name>.png)
# are made once with
#   python tools/dataset_converters/make_hr_coarse_masks.py \
#       data/DIS5K/DIS-TR/gt data/DIS5K/DIS-TR/coarse
#   python tools/dataset_converters/make_hr_coarse_masks.py \
#       data/ThinObject5K/masks data/ThinObject5K/coarse --list data/ThinObject5K/list/train.txt
dis5k_root = 'data/DIS5K/'
thin_object_root = 'data/ThinObject5K/'
model_size = 256
patch_size = 256

# Each sample (one image, one of its two offline coarse masks with p=0.5) yields two
# training pairs, built by the two branches of PairBranches from the same loaded data,
# as the authors' code (LoadPatchData) builds them: an object crop (a random crop
# containing the object's box, each side uniform between the box and the image border)
# resized to 256x256, and a 256x256 full-resolution patch containing foreground and
# background (half the shorter side for smaller images, then resized) whose coarse mask
# is the offline one's crop with p=0.5 and an online synthesis from the patch's ground
# truth otherwise. Resize: image bilinear, ground truth and coarse mask nearest; then a
# horizontal flip p=0.5 (the reference flips both pairs of a sample together, here each
# pair draws its own: the same distribution per pair). Every synthesis (online here and
# offline in make_hr_coarse_masks.py) stops its perturbation when the IoU with the
# boundary-modified mask it started from drops below 0.8, as the reference code does
# (iou_reference='ground_truth' measures it against the ground truth instead).
object_pipeline = [
    dict(type='RandomObjectCrop', padding=None),
    dict(type='RefineResize', scale=(model_size, model_size), mask_interpolation='nearest'),
    dict(type='RefineRandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
patch_pipeline = [
    dict(type='RandomPatchCrop', patch_size=patch_size),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='GenerateCoarseMask',
                key_in='gt_mask',
                key_out='coarse_mask',
                iou_target=0.8,
                iou_reference='boundary_modified')
        ],
        prob=0.5),
    dict(type='RefineResize', scale=(model_size, model_size), mask_interpolation='nearest'),
    dict(type='RefineRandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
train_pipeline = [
    dict(type='LoadRefineImage'),
    dict(type='LoadMaskFromFile', key='gt_mask', path_key='mask_path'),
    # coarse_path lists both offline variants; one is taken uniformly at random.
    dict(type='LoadMaskFromFile', key='coarse_mask', path_key='coarse_path', allow_empty=True),
    dict(type='PairBranches', branches=[object_pipeline, patch_pipeline]),
]

# batch_size counts samples, as the sampler draws them: every sample is a list of two
# packed pairs, which refine_pair_collate flattens, so a GPU's batch holds
# 2 x batch_size pairs (object crops and patches of the same images together).
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='refine_pair_collate'),
    dataset=dict(
        type='HRRefineDataset',
        subsets=[
            dict(
                img_dir=dis5k_root + 'DIS-TR/im',
                mask_dir=dis5k_root + 'DIS-TR/gt',
                coarse_dir=dis5k_root + 'DIS-TR/coarse'),
            dict(
                img_dir=thin_object_root + 'images',
                mask_dir=thin_object_root + 'masks',
                coarse_dir=thin_object_root + 'coarse',
                list_file=thin_object_root + 'list/train.txt'),
        ],
        pipeline=train_pipeline))
