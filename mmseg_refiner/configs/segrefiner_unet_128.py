# The published SegRefiner model (LR and HR checkpoints share it): an ADM-style
# U-Net of base width 128 (118,604,673 parameters) predicting mask logits, the
# discrete mask diffusion with T = 6 steps, BCE + 5 x texture loss.
# Input side 256; test_cfg.mode 'whole' refines inputs already at 256x256, 'instance'
# and 'global_local' run the instance and the global-local refiners below.
model = dict(
    type='SegRefiner',
    data_preprocessor=dict(
        type='RefinerDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    denoiser=dict(
        type='DenoiseUNet',
        in_channels=4,
        out_channels=1,
        model_channels=128,
        num_res_blocks=2,
        num_heads=4,
        num_heads_upsample=-1,
        attention_strides=(16, 32),
        learn_time_embd=True,
        channel_mult=(1, 1, 2, 2, 4, 4),
        dropout=0.0,
        num_timesteps=6,  # must equal diffusion.num_timesteps
        norm_groups=32),
    diffusion=dict(type='DiscreteMaskDiffusion', num_timesteps=6, start=0.8, end=0.0),
    loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
    loss_texture=dict(type='TextureLoss', loss_weight=5.0),
    model_size=256,
    # The paper's test settings for the two higher-level refiners; test configs pick
    # one with test_cfg.mode ('instance' or 'global_local').
    # Instance mode: per instance with >= 512 px: box + 20 px, crop, resize to 256x256,
    # all 6 reverse steps, paste back (bilinear), threshold 0.5; 32 crops per network call.
    instance_refiner=dict(
        type='InstanceRefiner',
        min_area=512,
        box_padding=20,
        batch_size=32,
        coarse_threshold=0.5,
        refined_threshold=0.5),
    # Global-local mode. Global: image and mask resized to 256x256 (nearest, as the published
    # models were evaluated), reverse steps t=5..1. Local: 256x256 full-resolution patches
    # centred on pixels with c < 0.9 * max(c), NMS IoU 0.3, step t=0, 32 patches per
    # network call. Masks with <= 128 foreground pixels are kept as they are. A patch centre i
    # at model resolution maps to the full-resolution pixel floor(i * H / h), as the authors'
    # evaluation does (centre_mapping='centre': floor((i + 0.5) * H / h)).
    global_local_refiner=dict(
        type='GlobalLocalRefiner',
        min_fg_pixels=128,
        interpolation='nearest',
        prob_interpolation='nearest',
        global_timesteps=(5, 4, 3, 2, 1),
        local_timesteps=(0, ),
        fine_prob_ratio=0.9,
        patch_size=256,
        nms_iou_thr=0.3,
        batch_size=32,
        threshold=0.5,
        centre_mapping='corner'),
    # Sampling is seeded per mask from seed, the image's file name and the mask's index
    # (None: torch's global random state).
    # precision: the network's dtype at inference. 'auto' runs it under bf16 autocast
    # (channels_last) where the hardware runs bf16 natively (a CPU with oneDNN bf16, a
    # CUDA device with bf16; fp16 on older CUDA devices), fp32 elsewhere; everything
    # around the network stays fp32. 'fp32' reproduces the float32 network exactly.
    test_cfg=dict(mode='whole', seed=0, precision='auto'))
